/* fuzz_inventory - dcvctl.conf through dcv_inventory_parse on a memory stream, then what
 * consumes a parsed inventory: look-ups and every renderer, the gateway's checked by its lint. */
#include "fuzz.h"

#include "../../lib/err.h"
#include "../../lib/inventory.h"
#include "../../lib/proxy.h"
#include "../../lib/proxy_gateway.h"
#include "../../lib/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen((void *)data, size, "r");
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = { 0 };

	if (!f)
		return 0;
	if (dcv_inventory_parse(f, "fuzz.conf", "/home/fuzz", &inv, &err) == DCV_OK) {
		struct dcv_buf out = DCV_BUF_INIT;
		FUZZ_ASSERT(inv && inv->n_hosts > 0);
		for (int i = 0; i < inv->n_hosts; i++) {
			const struct dcv_host *h = inv->hosts[i];
			FUZZ_ASSERT(dcv_inventory_host(inv, h->name) != NULL);
			if (h->role == DCV_ROLE_AGENT) {
				dcv_render_dcvconf(NULL, h, true, &out);
				dcv_buf_reset(&out);
			}
		}
		if (dcv_inventory_gateway(inv))
			for (int k = 0; dcv_proxy_kinds[k]; k++) {
				dcv_proxy_kinds[k]->render(inv, &(struct dcv_proxy_env){ 0 }, &out);
				dcv_buf_reset(&out);
			}
		/* the connection-gateway kind (not in the table yet): what it renders, its lint accepts */
		if (dcv_render_gateway(inv, NULL, &out, &err) == DCV_OK) {
			struct dcv_findings fs = { 0 };
			dcv_lint_gateway(out.data, "gw.conf", &fs);
			FUZZ_ASSERT(fs.n == 0);
			dcv_findings_free(&fs);
		} else {
			FUZZ_ASSERT(err.code == DCV_E_CONFIG && err.msg[0] != '\0');
		}
		dcv_buf_reset(&out);
		dcv_inventory_suggest_host(inv, "dcv1");
		dcv_buf_release(&out);
		dcv_inventory_free(inv);
	} else {
		FUZZ_ASSERT(err.msg[0] != '\0');
	}
	fclose(f);
	return 0;
}
