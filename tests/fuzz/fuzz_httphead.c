/* fuzz_httphead - the HTTP response head a server sends to the WebSocket upgrade, judged by
 * dcv_ws_check_answer (status line, RFC 6455 §4.1 fields), and the URL split of an
 * inventory's url. */
#include "fuzz.h"

#include "../../lib/probe.h"
#include "../../lib/ws.h"

/* The key whose accept value the corpus's 101 answers carry (RFC 6455 §1.3's example). */
static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";

static void head(const char *in)
{
	const char *end = strstr(in, "\r\n\r\n");
	struct dcv_ws_answer a;
	char *h;

	if (!end)
		return;
	/* as dcv_probe_ws hands it over: the status line to the blank line */
	h = xstrndup(in, (size_t)(end - in) + 2);
	dcv_ws_check_answer(h, key, &a);
	FUZZ_ASSERT(a.status == 0 || (a.status >= 100 && a.status <= 999));
	FUZZ_ASSERT(!a.accepted || (a.status == 101 && a.why[0] == '\0'));
	FUZZ_ASSERT(a.accepted || a.status != 101 || a.why[0] != '\0');
	FUZZ_ASSERT(memchr(a.why, '\0', sizeof(a.why)) != NULL);
	for (const char *p = a.why; *p; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p < 0x7f);
	free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size);
	char host[256], path[1024];
	int port = 0;

	head(in);
	/* the first line as an inventory's [endpoint] url */
	in[strcspn(in, "\n")] = '\0';
	if (dcv_url_split(in, host, sizeof(host), &port, path, sizeof(path))) {
		FUZZ_ASSERT(host[0] != '\0' && path[0] == '/');
		FUZZ_ASSERT(port > 0 && port < 65536);
	}
	free(in);
	return 0;
}
