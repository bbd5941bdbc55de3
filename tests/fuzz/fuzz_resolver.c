/* fuzz_resolver - the Session Resolver's answer (reference/dcv.md §4) as the broker sends it:
 * the first byte picks the HTTP status, the rest is the body. */
#include "fuzz.h"

#include "../../lib/err.h"
#include "../../lib/resolver.h"

static void no_controls(const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		FUZZ_ASSERT(*c >= 0x20 && *c != 0x7f);
}

static void check_target(const char *id)
{
	struct dcv_buf b = DCV_BUF_INIT;
	const char *q;

	dcv_resolver_target(&b, id, "HTTP");
	q = strstr(b.data, "sessionId=");
	FUZZ_ASSERT(q && strncmp(b.data, "/resolveSession?", 16) == 0);
	/* the id cannot add a parameter or end the request line */
	for (q += 10; *q != '&'; q++)
		FUZZ_ASSERT(*q && !strchr(" =?#\r\n", *q));
	FUZZ_ASSERT(strcmp(q, "&transport=HTTP") == 0);
	dcv_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 200, 200, 404, 400, 500 };
	struct dcv_resolution r = { 0 };
	struct dcv_err err = { 0 };
	char *body;
	int status;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	body = fuzz_str(data + 1, size - 1);
	if (dcv_resolver_parse(status, body, &r, &err) == DCV_OK) {
		if (r.status == DCV_RESOLVE_FOUND) {
			FUZZ_ASSERT(status == 200);
			FUZZ_ASSERT(r.session_id && r.transport && r.endpoint && r.web_url_path && !r.message);
			FUZZ_ASSERT(!strcmp(r.transport, "HTTP") || !strcmp(r.transport, "QUIC"));
			FUZZ_ASSERT(r.port >= 1 && r.port <= 65535);
			FUZZ_ASSERT(r.web_url_path[0] == '/' && r.endpoint[0] && r.session_id[0]);
			no_controls(r.session_id);
			no_controls(r.endpoint);
			no_controls(r.web_url_path);
		} else {
			FUZZ_ASSERT(status == 404 && r.status == DCV_RESOLVE_NOT_FOUND);
			FUZZ_ASSERT(r.message && strlen(r.message) <= 200 && !r.endpoint);
			no_controls(r.message);
		}
	} else {
		FUZZ_ASSERT(err.code == DCV_E_REMOTE && err.msg[0] != '\0');
		FUZZ_ASSERT(status != 404);
	}
	dcv_resolution_release(&r);
	check_target(body);
	free(body);
	return 0;
}
