/* The table of proxy kinds and what every kind shares. */
#include "proxy.h"

#include "proxy_gateway.h"

#include <string.h>

const struct dcv_proxy_kind *const dcv_proxy_kinds[] = { &dcv_proxy_nginx, &dcv_proxy_haproxy, &dcv_proxy_gateway,
							    NULL };

const struct dcv_proxy_kind *dcv_proxy_kind(enum dcv_proxy id)
{
	for (int i = 0; dcv_proxy_kinds[i]; i++)
		if (dcv_proxy_kinds[i]->id == id)
			return dcv_proxy_kinds[i];
	return NULL;
}

const struct dcv_proxy_kind *dcv_proxy_kind_named(const char *name)
{
	for (int i = 0; dcv_proxy_kinds[i]; i++)
		if (strcmp(dcv_proxy_kinds[i]->name, name) == 0)
			return dcv_proxy_kinds[i];
	return NULL;
}

bool dcv_proxy_bypass(const struct dcv_inventory *inv)
{
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	const struct dcv_proxy_kind *k = gw ? dcv_proxy_kind(gw->proxy) : NULL;

	return !gw || (k && k->bypass);
}

static void redact(struct dcv_buf *b, const char *secret)
{
	struct dcv_buf o = DCV_BUF_INIT;
	const char *p, *q;
	size_t n;

	if (!secret || !*secret || !b->len)
		return;
	n = strlen(secret);
	for (p = b->data; (q = strstr(p, secret)); p = q + n) {
		dcv_buf_add(&o, p, (size_t)(q - p));
		dcv_buf_adds(&o, "<redacted>");
	}
	if (p == b->data) {
		dcv_buf_release(&o);
		return;
	}
	dcv_buf_adds(&o, p);
	dcv_buf_release(b);
	*b = o;
}

void dcv_proxy_redact(const struct dcv_proxy_env *env, struct dcv_buf *b)
{
	if (!env)
		return;
	redact(b, env->stats_password);
	redact(b, env->trust_store_pass);
}
