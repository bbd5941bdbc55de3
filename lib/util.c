#include "util.h"

#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void dcv_shquote(struct dcv_buf *out, const char *s)
{
	/* Single quotes keep everything literal; a single quote itself becomes '\''. */
	dcv_buf_addc(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			dcv_buf_adds(out, "'\\''");
		else
			dcv_buf_addc(out, *s);
	}
	dcv_buf_addc(out, '\'');
}

void dcv_shquote_argv(struct dcv_buf *out, const char *const *argv, int argc)
{
	for (int i = 0; i < argc; i++) {
		if (i)
			dcv_buf_addc(out, ' ');
		dcv_shquote(out, argv[i]);
	}
}

int dcv_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int *prev2 = xcalloc(lb + 1, sizeof(int));
	int *prev = xcalloc(lb + 1, sizeof(int));
	int *cur = xcalloc(lb + 1, sizeof(int));
	int d;

	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			int v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
		int *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	d = prev[lb];
	free(prev2);
	free(prev);
	free(cur);
	return d;
}

const char *dcv_nearest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	int best_d = INT_MAX;
	size_t wl = strlen(word);

	for (size_t i = 0; i < n; i++) {
		int d = dcv_edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	/* A third of the word's length (at least 1, at most 3) is a typo; more is another word. */
	int limit = (int)(wl / 3);
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	if (best && best_d <= limit)
		return best;
	/* A prefix of a candidate ("host" for "hosts") is also a plausible slip. */
	for (size_t i = 0; i < n && wl >= 3; i++)
		if (strncmp(candidates[i], word, wl) == 0)
			return candidates[i];
	return NULL;
}

bool dcv_parse_int(const char *s, long min, long max, long *v)
{
	char *end;
	long x;

	if (!s || !*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	x = strtol(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return false;
	*v = x;
	return true;
}

bool dcv_parse_duration(const char *s, long *ms)
{
	char *end;
	double x;
	long mult = 1000;

	if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.'))
		return false;
	for (const char *c = s; *c && !isalpha((unsigned char)*c); c++)
		if (!isdigit((unsigned char)*c) && *c != '.')
			return false;
	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0 || strpbrk(s, "eE"))
		return false;
	errno = 0;
	x = strtod(s, &end);
	if (errno || x < 0)
		return false;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else
		return false;
	if (x * (double)mult > (double)LONG_MAX / 2)
		return false;
	*ms = (long)(x * (double)mult + 0.5);
	return true;
}

void dcv_format_duration(struct dcv_buf *out, long ms)
{
	if (ms % 3600000 == 0 && ms)
		dcv_buf_addf(out, "%ldh", ms / 3600000);
	else if (ms % 60000 == 0 && ms)
		dcv_buf_addf(out, "%ldm", ms / 60000);
	else if (ms % 1000 == 0)
		dcv_buf_addf(out, "%lds", ms / 1000);
	else
		dcv_buf_addf(out, "%ldms", ms);
}

bool dcv_parse_hostport(const char *s, int default_port, char **host, int *port)
{
	const char *colon;
	size_t hl;
	long p = default_port;

	if (!s || !*s)
		return false;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1)
			return false;
		if (close[1] == ':') {
			if (!dcv_parse_int(close + 2, 1, 65535, &p))
				return false;
		} else if (close[1]) {
			return false;
		}
		*host = xstrndup(s + 1, (size_t)(close - s - 1));
		*port = (int)p;
		return true;
	}
	colon = strrchr(s, ':');
	if (colon && strchr(s, ':') != colon)
		colon = NULL; /* bare IPv6 without brackets: no port */
	hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl == 0)
		return false;
	for (size_t i = 0; i < hl; i++)
		if (isspace((unsigned char)s[i]) || s[i] == '/' || s[i] == '@')
			return false;
	if (colon && !dcv_parse_int(colon + 1, 1, 65535, &p))
		return false;
	*host = xstrndup(s, hl);
	*port = (int)p;
	return true;
}

bool dcv_parse_bool(const char *s, bool *v)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = false;
			return true;
		}
	}
	return false;
}

long long dcv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dcv_file_read(const char *path, struct dcv_buf *out)
{
	FILE *f = fopen(path, "r");
	char buf[8192];
	size_t n;
	int failed;

	if (!f)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		dcv_buf_add(out, buf, n);
	failed = ferror(f);
	fclose(f);
	return failed ? -1 : 0;
}

int dcv_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	/* mkstemp opens a fresh random name with O_CREAT|O_EXCL (mode 0600): a file or symlink
	 * planted at any name we could have predicted is never opened, let alone followed. rename
	 * replaces a symlink at the target itself rather than writing through it. */
	const char *slash = strrchr(path, '/');
	char *tmp = slash ? xasprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
			  : xasprintf(".%s.XXXXXX", path);
	const char *p = data ? data : "";
	int fd = mkostemp(tmp, O_CLOEXEC);
	int rc = -1, saved;

	if (fd < 0) {
		saved = errno;
		free(tmp);
		errno = saved;
		return -1;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (len == 0 && fchmod(fd, (mode_t)mode) == 0 && fsync(fd) == 0) {
		rc = close(fd);
		fd = -1;
		if (rc == 0)
			rc = rename(tmp, path);
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return rc;
}
