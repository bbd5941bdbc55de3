/* fuzz_lint_nginx - a gateway's nginx files (read over SSH) and its crontabs through the nginx
 * lint. The input is up to four files and the crontab text, separated by NUL bytes. */
#include "fuzz.h"

#include "../../lib/lint.h"

static const char *const names[] = {
	"/etc/nginx/nginx.conf", "/etc/nginx/conf.d/dcv-proxy.conf", "/etc/nginx/conf.d/other.conf",
	"/etc/nginx/sites-enabled/default",
};
#define MAX_FILES (int)(sizeof(names) / sizeof(names[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_nginx_file files[MAX_FILES];
	char *text[MAX_FILES + 1] = { 0 };
	const char *crons = NULL;
	struct dcv_findings f = { 0 };
	size_t off = 0;
	int n = 0, nf;

	while (off < size && n <= MAX_FILES) {
		const uint8_t *nul = memchr(data + off, 0, size - off);
		size_t len = nul ? (size_t)(nul - (data + off)) : size - off;
		text[n] = xstrndup((const char *)data + off, len);
		n++;
		off += len + 1;
	}
	nf = n > MAX_FILES ? MAX_FILES : n;
	for (int i = 0; i < nf; i++)
		files[i] = (struct dcv_nginx_file){ names[i], text[i] };
	if (n > MAX_FILES)
		crons = text[MAX_FILES];
	dcv_lint_nginx(files, nf, crons, &f);
	FUZZ_ASSERT(dcv_findings_errors(&f) + dcv_findings_warnings(&f) == f.n);
	for (int i = 0; i < f.n; i++)
		FUZZ_ASSERT(f.v[i].rule && f.v[i].msg && f.v[i].line >= 0);
	dcv_findings_free(&f);
	for (int i = 0; i < n; i++)
		free(text[i]);
	return 0;
}
