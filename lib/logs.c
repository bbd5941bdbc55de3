/* The logs of the hosts: sources per role, the remote script, line times and levels, merge. */
#include "logs.h"

#include "inventory.h"
#include "proxy.h"
#include "sanitize.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A longer line is cut here: a log line is text, and the reader must not grow without bound. */
#define MAX_LINE 65536

const char *dcv_log_level_name(enum dcv_log_level l)
{
	return l == DCV_LOG_ERROR ? "error" : l == DCV_LOG_WARN ? "warn" : "info";
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The Gregorian year of a day count (civil_from_days, year only). */
static int year_of(long long days)
{
	days += 719468;
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	return (int)(yoe + era * 400 + (mp >= 10));
}

static bool digits(const char *p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		*v = *v * 10 + (p[i] - '0');
	}
	return true;
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int month_named(const char *p)
{
	for (int i = 0; i < 12; i++)
		if (strncmp(p, months[i], 3) == 0)
			return i + 1;
	return 0;
}

struct civil {
	int y, mo, d, h, mi, s, ms;
};

/* "HH:MM:SS" and an optional fraction ".123456" or ",123" (milliseconds kept). */
static const char *parse_hms(const char *p, struct civil *t)
{
	if (!digits(p, 2, &t->h) || p[2] != ':' || !digits(p + 3, 2, &t->mi) || p[5] != ':' ||
	    !digits(p + 6, 2, &t->s))
		return NULL;
	p += 8;
	t->ms = 0;
	if ((*p == '.' || *p == ',') && isdigit((unsigned char)p[1])) {
		int k = 0;
		for (p++; isdigit((unsigned char)*p); p++, k++)
			if (k < 3)
				t->ms = t->ms * 10 + (*p - '0');
		for (; k < 3; k++)
			t->ms *= 10;
	}
	return p;
}

/* A zone written right after the time: "Z", "+0100", "+01:00", "-05". NULL when none. */
static const char *parse_zone(const char *p, int *off)
{
	int zh, zm = 0;

	if (*p == 'Z') {
		*off = 0;
		return p + 1;
	}
	if ((*p != '+' && *p != '-') || !digits(p + 1, 2, &zh))
		return NULL;
	const char *q = p + 3;
	if (*q == ':' && digits(q + 1, 2, &zm))
		q += 3;
	else if (digits(q, 2, &zm))
		q += 2;
	if (zh > 23 || zm > 59)
		return NULL;
	*off = (*p == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
	return q;
}

static bool civil_ms(const struct civil *t, int off, long long *ms)
{
	if (t->y < 1970 || t->y > 9999 || t->mo < 1 || t->mo > 12 || t->d < 1 || t->d > 31 ||
	    t->h > 23 || t->mi > 59 || t->s > 60)
		return false;
	long long s = days_from_civil(t->y, t->mo, t->d) * 86400 + t->h * 3600 + t->mi * 60 + t->s - off;
	if (s <= 0)
		return false;
	*ms = s * 1000 + t->ms;
	return true;
}

/* 2026-11-30 16:44:12,123456 | 2026-11-30T16:44:12.123Z | 2026/11/30 16:44:12 */
static bool parse_iso(const char *p, const struct dcv_log_clock *c, long long *ms)
{
	struct civil t;
	int off;

	if (!digits(p, 4, &t.y) || (p[4] != '-' && p[4] != '/') || !digits(p + 5, 2, &t.mo) ||
	    p[7] != p[4] || !digits(p + 8, 2, &t.d) || (p[10] != ' ' && p[10] != 'T') ||
	    !(p = parse_hms(p + 11, &t)))
		return false;
	if (!parse_zone(p, &off))
		off = c->utc_offset_s;
	return civil_ms(&t, off, ms);
}

/* Nov 30 16:44:12 (local time, no year: the one that puts it no later than the host's now) */
static bool parse_syslog(const char *p, const struct dcv_log_clock *c, long long *ms)
{
	struct civil t;

	if (!(t.mo = month_named(p)) || p[3] != ' ')
		return false;
	p += 4;
	if (*p == ' ' && digits(p + 1, 1, &t.d))
		p += 2;
	else if (digits(p, 2, &t.d))
		p += 2;
	else
		return false;
	if (*p != ' ' || !parse_hms(p + 1, &t))
		return false;
	t.y = year_of((c->now_s + c->utc_offset_s) / 86400);
	if (!civil_ms(&t, c->utc_offset_s, ms))
		return false;
	if (*ms / 1000 > c->now_s + 2 * 86400) {
		t.y--;
		return civil_ms(&t, c->utc_offset_s, ms);
	}
	return true;
}

/* [30/Nov/2026:16:44:12 +0000] (nginx) or [30/Nov/2026:16:44:12.123] (HAProxy, local time) */
static bool parse_bracketed(const char *line, const struct dcv_log_clock *c, long long *ms)
{
	for (const char *p = strchr(line, '['); p && p - line < 512; p = strchr(p + 1, '[')) {
		struct civil t;
		const char *q = p + 1;
		int off = c->utc_offset_s;

		if (!digits(q, 2, &t.d) || q[2] != '/' || !(t.mo = month_named(q + 3)) || q[6] != '/' ||
		    !digits(q + 7, 4, &t.y) || q[11] != ':' || !(q = parse_hms(q + 12, &t)))
			continue;
		if (*q == ' ' && !(q = parse_zone(q + 1, &off)))
			continue;
		if (*q == ']' && civil_ms(&t, off, ms))
			return true;
	}
	return false;
}

bool dcv_log_time(const char *line, const struct dcv_log_clock *clock, long long *ms)
{
	const char *p = line[0] == '[' ? line + 1 : line;

	return parse_iso(p, clock, ms) || parse_syslog(line, clock, ms) ||
	       parse_bracketed(line, clock, ms);
}

/* ---- level ---- */

static bool status_at(const char *p, int *status)
{
	return digits(p, 3, status) && (p[3] == ' ' || p[3] == '\0') && *status >= 100 && *status < 600;
}

/* HAProxy's http log timers "Th/Ti/TR/Tw/Tc/Tr/Ta" style field: 5 or more numbers joined by
 * '/', the last one possibly "+N" (logasap). Returns its end, or NULL. */
static const char *timers(const char *p)
{
	int fields = 0;

	for (;;) {
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
		fields++;
		if (*p != '/')
			break;
		p++;
	}
	return fields >= 5 && *p == ' ' ? p : NULL;
}

/* The HTTP status of an access log line (nginx combined, HAProxy httplog); 0 when none. */
static int access_status(const char *line)
{
	int status;
	const char *p = strstr(line, "] \"");

	if (p && (p = strstr(p + 3, "\" ")) && status_at(p + 2, &status))
		return status;
	for (p = line; (p = strchr(p, ' ')); p++) {
		const char *end = timers(p + 1);
		if (end && status_at(end + 1, &status))
			return status;
	}
	return 0;
}

static const struct {
	const char *word;
	enum dcv_log_level level;
} declared[] = {
	{ "emerg", DCV_LOG_ERROR }, { "alert", DCV_LOG_ERROR }, { "crit", DCV_LOG_ERROR },
	{ "critical", DCV_LOG_ERROR }, { "error", DCV_LOG_ERROR }, { "err", DCV_LOG_ERROR },
	{ "fatal", DCV_LOG_ERROR }, { "panic", DCV_LOG_ERROR }, { "warn", DCV_LOG_WARN },
	{ "warning", DCV_LOG_WARN }, { "notice", DCV_LOG_INFO }, { "info", DCV_LOG_INFO },
	{ "debug", DCV_LOG_INFO }, { "trace", DCV_LOG_INFO },
};

/* A level word in the line's header: "[error]" in any case (nginx, the gateway), or a bare
 * upper-case "ERROR"/"WARN" (DCV, Python and Java loggers). Lower-case bare words are message
 * text. Returns false when the line declares none. */
static bool declared_level(const char *line, enum dcv_log_level *out)
{
	const char *p = line;

	while (*p && p - line < 160) {
		while (*p == ' ')
			p++;
		const char *start = p;
		while (*p && *p != ' ')
			p++;
		size_t len = (size_t)(p - start);
		bool bracket = len > 2 && start[0] == '[' && start[len - 1] == ']';
		if (bracket)
			start++, len -= 2;
		else if (len > 1 && start[len - 1] == ':')
			len--;
		for (size_t i = 0; i < sizeof(declared) / sizeof(declared[0]); i++) {
			if (strlen(declared[i].word) != len || strncasecmp(start, declared[i].word, len) != 0)
				continue;
			bool upper = true;
			for (size_t k = 0; k < len; k++)
				upper &= isupper((unsigned char)start[k]) != 0;
			if (bracket || upper) {
				*out = declared[i].level;
				return true;
			}
		}
	}
	return false;
}

/* A word (or its start: "fail" finds "failed") anywhere at a word boundary, in any case. */
static bool has_word(const char *line, const char *word)
{
	for (const char *p = line; (p = strcasestr(p, word)); p++)
		if (p == line || !isalnum((unsigned char)p[-1]))
			return true;
	return false;
}

static const char *const error_words[] = { "error", "fail", "fatal", "panic", "critical",
					   "segfault", "out of memory", NULL };
static const char *const warn_words[] = { "warn", "timeout", "timed out", "refused", "denied",
					  "unreachable", NULL };

enum dcv_log_level dcv_log_level(const char *line)
{
	enum dcv_log_level l;
	int status = access_status(line);

	if (status)
		return status >= 500 ? DCV_LOG_ERROR : DCV_LOG_INFO;
	/* HAProxy logs these at alert/emerg through syslog, but the line does not say so */
	if (strstr(line, " is DOWN") || strstr(line, "no server available"))
		return DCV_LOG_ERROR;
	if (declared_level(line, &l))
		return l;
	for (int i = 0; error_words[i]; i++)
		if (has_word(line, error_words[i]))
			return DCV_LOG_ERROR;
	for (int i = 0; warn_words[i]; i++)
		if (has_word(line, warn_words[i]))
			return DCV_LOG_WARN;
	return DCV_LOG_INFO;
}

/* ---- sources and the remote script ---- */

/* Where the products write (reference §2.8 and §3): the Connection Gateway and the Session
 * Manager broker on the gateway when they are installed, DCV and its Session Manager agent on
 * the agents. The journal stands in when a unit writes no file. */
static const struct dcv_log_source gateway_logs[] = {
	{ "/var/log/dcv-connection-gateway/gateway.log", DCV_UNIT_GATEWAY },
	{ "/var/log/dcv-session-manager-broker/broker.log", DCV_UNIT_BROKER },
	{ NULL, NULL },
};

static const struct dcv_log_source agent_logs[] = {
	{ "/var/log/dcv/server.log", "dcvserver" },
	{ "/var/log/dcv-session-manager-agent/agent.log", DCV_UNIT_SM_AGENT },
	{ NULL, NULL },
};

static void add_sources(const struct dcv_log_source *t, const struct dcv_log_source **out, int *n)
{
	for (; t && (t->file || t->unit) && *n < DCV_LOGS_MAX_SOURCES; t++)
		out[(*n)++] = t;
}

int dcv_logs_sources(const struct dcv_host *h, const struct dcv_log_source **out)
{
	int n = 0;

	if (h->role == DCV_ROLE_GATEWAY) {
		const struct dcv_proxy_kind *k = dcv_proxy_kind(h->proxy);
		if (k)
			add_sources(k->logs, out, &n);
		add_sources(gateway_logs, out, &n);
	} else if (h->role == DCV_ROLE_AGENT) {
		add_sources(agent_logs, out, &n);
	}
	return n;
}

/* The pipe that tags each line with its source. A follower's lines must leave as they come:
 * mawk (Debian's awk) reads a pipe in blocks whatever it flushes, so they go through the
 * shell's read, which takes a line at a time. */
static void tag(struct dcv_buf *out, int i, bool follow)
{
	if (follow)
		dcv_buf_addf(out, " | while IFS= read -r l; do printf '%d\\t%%s\\n' \"$l\"; done &\n", i);
	else
		dcv_buf_addf(out, " | awk -v i=%d '{ print i \"\\t\" $0 }'\n", i);
}

static void script_source(const struct dcv_log_source *s, int i, const struct dcv_logs_req *req,
			  struct dcv_buf *out)
{
	const char *kw = "if";

	if (s->file) {
		dcv_buf_adds(out, "if [ -r ");
		dcv_shquote(out, s->file);
		dcv_buf_addf(out, " ]; then echo '+ %d file'\n ", i);
		if (req->since_s && !req->follow) {
			/* a file untouched since then has nothing to show: skip reading it */
			dcv_buf_adds(out, " [ -z \"$(find ");
			dcv_shquote(out, s->file);
			dcv_buf_addf(out, " -newermt @%lld 2>/dev/null)\" ] ||", req->since_s);
		}
		dcv_buf_addf(out, " tail -n %d%s ", req->lines, req->follow ? " -F" : "");
		dcv_shquote(out, s->file);
		dcv_buf_adds(out, " 2>/dev/null");
		tag(out, i, req->follow);
		kw = "elif";
	}
	if (s->unit) {
		dcv_buf_addf(out, "%s systemctl cat ", kw);
		dcv_shquote(out, s->unit);
		dcv_buf_addf(out, " >/dev/null 2>&1; then echo '+ %d journal'\n", i);
		dcv_buf_adds(out, "  journalctl -q --no-pager -o short-iso -u ");
		dcv_shquote(out, s->unit);
		dcv_buf_addf(out, " -n %d", req->lines);
		if (req->since_s)
			dcv_buf_addf(out, " --since @%lld", req->since_s);
		dcv_buf_adds(out, req->follow ? " -f" : "");
		tag(out, i, req->follow);
	}
	dcv_buf_adds(out, "fi\n");
}

void dcv_logs_script(const struct dcv_log_source *const *src, int n, const struct dcv_logs_req *req,
		     struct dcv_buf *out)
{
	dcv_buf_adds(out, "date +'@ %s %z'\n");
	for (int i = 0; i < n; i++)
		script_source(src[i], i, req, out);
	/* followers run until dcvctl goes away: its end closes our stdin, then the group ends */
	if (req->follow)
		dcv_buf_adds(out, "cat >/dev/null\nkill 0\n");
}

const char *dcv_logs_label(const struct dcv_log_source *src, bool journal, char *buf, size_t n)
{
	if (!journal && src->file)
		return src->file;
	snprintf(buf, n, "journal:%s", src->unit ? src->unit : "");
	return buf;
}

/* ---- the reader ---- */

void dcv_logs_reader_init(struct dcv_logs_reader *r, int host, int n_sources, dcv_logs_line_fn fn,
			  void *user)
{
	memset(r, 0, sizeof(*r));
	dcv_buf_init(&r->pending);
	r->host = host;
	r->n_sources = n_sources < DCV_LOGS_MAX_SOURCES ? n_sources : DCV_LOGS_MAX_SOURCES;
	r->fn = fn;
	r->user = user;
}

void dcv_logs_reader_release(struct dcv_logs_reader *r)
{
	dcv_buf_release(&r->pending);
}

/* "@ 1764521052 +0900": the host's clock, bounded so that no later arithmetic overflows. */
static void read_clock(struct dcv_logs_reader *r, const char *p)
{
	char *end;
	long long now = strtoll(p, &end, 10);
	int off;

	if (end == p || *end != ' ' || now < 0 || now > 253402300799LL || !parse_zone(end + 1, &off))
		return;
	r->clock.now_s = now;
	r->clock.utc_offset_s = off;
}

static int source_index(const char *p, const char **rest)
{
	int i = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p) && i < 1000; p++)
		i = i * 10 + (*p - '0');
	*rest = p;
	return i;
}

static void read_line(struct dcv_logs_reader *r, char *s)
{
	const char *rest;
	int i;

	if (s[0] == '@' && s[1] == ' ') {
		read_clock(r, s + 2);
		return;
	}
	if (s[0] == '+' && s[1] == ' ') {
		if ((i = source_index(s + 2, &rest)) >= 0 && i < r->n_sources && *rest == ' ') {
			r->found[i] = true;
			r->journal[i] = strcmp(rest + 1, "journal") == 0;
		}
		return;
	}
	if ((i = source_index(s, &rest)) < 0 || i >= r->n_sources || *rest != '\t')
		return;
	rest++;
	size_t len = strlen(rest);
	if (len && rest[len - 1] == '\r')
		s[rest - s + (long)len - 1] = '\0';
	/* journalctl's own notes ("-- No entries --", "-- Boot ... --") are not log lines */
	if (r->journal[i] && strncmp(rest, "-- ", 3) == 0)
		return;
	struct dcv_log_line *l = xcalloc(1, sizeof(*l));
	l->host = r->host;
	l->source = i;
	l->seq = r->seq++;
	l->text = dcv_sanitize_line(rest);
	if (!dcv_log_time(l->text, &r->clock, &l->ms))
		l->ms = 0;
	l->key = l->ms;
	l->level = dcv_log_level(l->text);
	r->fn(r->user, l);
}

void dcv_logs_reader_feed(struct dcv_logs_reader *r, const char *data, size_t len)
{
	dcv_buf_add(&r->pending, data, len);
	for (;;) {
		char *s = r->pending.data, *nl = s ? memchr(s, '\n', r->pending.len) : NULL;
		size_t take;

		if (nl)
			take = (size_t)(nl - s) + 1;
		else if (r->pending.len >= MAX_LINE)
			take = MAX_LINE;
		else
			return;
		/* the rest of a line cut at MAX_LINE is dropped, never read as lines of its own */
		if (!r->cut) {
			char *line = xstrndup(s, nl ? take - 1 : take);
			read_line(r, line);
			free(line);
		}
		r->cut = !nl;
		memmove(s, s + take, r->pending.len - take);
		r->pending.len -= take;
		s[r->pending.len] = '\0';
	}
}

void dcv_logs_reader_finish(struct dcv_logs_reader *r)
{
	if (r->pending.len && !r->cut) {
		char *line = xstrndup(r->pending.data, r->pending.len);
		read_line(r, line);
		free(line);
	}
	dcv_buf_reset(&r->pending);
	r->cut = false;
}

/* ---- resuming after a reconnect ---- */

bool dcv_logs_mark_next(struct dcv_logs_mark *m, const struct dcv_log_line *l)
{
	if (m->resuming) {
		if (!l->ms && m->dropping)
			return false;
		if (l->ms && (l->ms < m->skip_ms || (l->ms == m->skip_ms && m->skip > 0))) {
			if (l->ms == m->skip_ms)
				m->skip--;
			m->dropping = true;
			return false;
		}
		/* the first new line with a time ends the lines read again; one without a time
		 * that follows a new line is new too (an untimed log is shown again, never lost) */
		m->dropping = false;
		m->resuming = l->ms == 0;
	}
	if (l->ms && l->ms == m->ms) {
		m->at_ms++;
	} else if (l->ms) {
		m->ms = l->ms;
		m->at_ms = 1;
	}
	return true;
}

void dcv_logs_mark_resume(struct dcv_logs_mark *m, long long start_ms)
{
	m->resuming = true;
	m->dropping = m->ms != 0;
	m->skip_ms = m->ms ? m->ms : start_ms;
	m->skip = m->ms ? m->at_ms : 0;
}

/* ---- merge ---- */

static int by_source(const void *a, const void *b)
{
	const struct dcv_log_line *x = a, *y = b;

	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_time(const void *a, const void *b)
{
	const struct dcv_log_line *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return by_source(a, b);
}

void dcv_logs_sort(struct dcv_log_line *v, size_t n)
{
	size_t start = 0;

	qsort(v, n, sizeof(*v), by_source);
	while (start < n) {
		size_t end = start;
		long long first = 0, prev;
		enum dcv_log_level level = DCV_LOG_INFO;
		bool timed = false;

		while (end < n && v[end].host == v[start].host && v[end].source == v[start].source) {
			if (!first)
				first = v[end].ms;
			end++;
		}
		/* lines before the first time sort with it; later ones with the line above, whose
		 * level they share (the trace of an ERROR is part of the error) */
		prev = first;
		for (size_t i = start; i < end; i++) {
			if (v[i].ms) {
				prev = v[i].ms;
				level = v[i].level;
				timed = true;
			} else if (timed) {
				v[i].level = level;
			}
			v[i].key = prev;
		}
		start = end;
	}
	qsort(v, n, sizeof(*v), by_time);
}
