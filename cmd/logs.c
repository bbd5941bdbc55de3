/* dcvctl logs [HOST...]: the proxy's and DCV's logs of the hosts, merged by time, or followed. */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/logs.h"
#include "../lib/sanitize.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* With --since, every line since then, up to this many per log. */
#define SINCE_LINES 100000

struct vars {
	bool follow, errors, json;
	long since_ms;
	const char *grep;
	long lines; /* -1: not given */
};

static const struct dcv_opt opts[] = {
	CLI_BOOL(struct vars, follow, 'f', "follow",
		 "keep printing lines as they are written (survives rotation and reconnects)"),
	CLI_DURATION(struct vars, since_ms, 0, "since", "DUR", 1, "only lines written in the last DUR (e.g. 10m, 2h)"),
	CLI_STRING(struct vars, grep, 0, "grep", "RE", "only lines matching the extended regular expression RE"),
	CLI_BOOL(struct vars, errors, 0, "errors", "only errors and warnings"),
	CLI_INT(struct vars, lines, 'n', "lines", "N", 0, SINCE_LINES,
		"last N lines of each log (default 10; with --since: all since then)"),
	CLI_BOOL(struct vars, json, 0, "json", "one JSON object per line: host, file, time, level, line"),
	CLI_END,
};

/* A follower's run lasts until the operator stops it. */
#define FOLLOW_TIMEOUT_MS (365L * 24 * 3600 * 1000)
#define BACKOFF_MAX_MS 30000
/* After a reconnect, the last lines of each log are read again: those written while the
 * connection was down are among them (up to this many). */
#define RESUME_LINES 1000

struct host_job {
	struct dcv_host *host;
	const struct dcv_log_source *src[DCV_LOGS_MAX_SOURCES];
	int n_src;
	struct dcv_logs_reader reader;
	struct dcv_buf stderr_tail; /* what the remote command said on stderr, the end of it */
	struct dcv_log_line **lines; /* collected (not following) */
	size_t n_lines, cap_lines;
	long long last_ms[DCV_LOGS_MAX_SOURCES]; /* following: the time of the latest line */
	enum dcv_log_level last_level[DCV_LOGS_MAX_SOURCES]; /* and its level */
	bool announce; /* following: say "reconnected" when the next run starts printing */
	struct dcv_logs_mark mark[DCV_LOGS_MAX_SOURCES]; /* following: what was read of each log */
	long long start_ms; /* following: the host's time when it began */
	int rc;
	struct dcv_err err;
	struct job *job;
};

struct job {
	struct dcv_ctx *ctx;
	struct dcv_ssh_pool *pool;
	struct host_job *hosts;
	int n;
	struct dcv_logs_req req;
	long long since_ms;
	bool errors, json, follow;
	regex_t re;
	bool has_re;
	int stdin_fd; /* followers' stdin: held open until dcvctl ends */
	pthread_mutex_t out; /* one line at a time on stdout and stderr */
};

/* ---- printing ---- */

static bool wanted(const struct job *j, const struct dcv_log_line *l)
{
	if (j->since_ms && l->key && l->key < j->since_ms)
		return false;
	if (j->errors && l->level == DCV_LOG_INFO)
		return false;
	return !j->has_re || regexec(&j->re, l->text, 0, NULL, 0) == 0;
}

static void iso_time(long long ms, char *buf, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000));
}

static void print_line(struct job *j, struct host_job *hj, const struct dcv_log_line *l)
{
	char lb[96], tb[40];
	const char *label = dcv_logs_label(hj->src[l->source], hj->reader.journal[l->source], lb, sizeof(lb));

	if (j->json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "host", json_object_new_string(hj->host->name));
		json_object_object_add(o, "file", json_object_new_string(label));
		if (l->ms)
			iso_time(l->ms, tb, sizeof(tb));
		json_object_object_add(o, "time", l->ms ? json_object_new_string(tb) : NULL);
		json_object_object_add(o, "level", json_object_new_string(dcv_log_level_name(l->level)));
		json_object_object_add(o, "line", json_object_new_string(l->text));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return;
	}
	const char *c = l->level == DCV_LOG_ERROR ? "red" : l->level == DCV_LOG_WARN ? "yellow" : NULL;
	printf("%s%s %s:%s %s%s%s\n", col(j->ctx, "dim"), hj->host->name, label, col_end(j->ctx),
	       c ? col(j->ctx, c) : "", l->text, c ? col_end(j->ctx) : "");
}

/* ---- one host's output ---- */

static void keep_stderr(struct host_job *hj, const char *data, size_t len)
{
	if (hj->stderr_tail.len > 4096)
		dcv_buf_reset(&hj->stderr_tail);
	dcv_buf_add(&hj->stderr_tail, data, len);
}

static void collect(void *user, struct dcv_log_line *l)
{
	struct host_job *hj = user;

	if (hj->n_lines == hj->cap_lines) {
		hj->cap_lines = hj->cap_lines ? hj->cap_lines * 2 : 256;
		hj->lines = xrealloc(hj->lines, hj->cap_lines * sizeof(*hj->lines));
	}
	hj->lines[hj->n_lines++] = l;
}

static void flush_or_exit(void)
{
	if (fflush(stdout) != 0) {
		/* the reader went away (a pipe into head): that ends a follow, quietly */
		_exit(errno == EPIPE ? EXIT_OK : EXIT_INTERNAL);
	}
}

static void follow_line(void *user, struct dcv_log_line *l)
{
	struct host_job *hj = user;
	struct job *j = hj->job;

	if (!dcv_logs_mark_next(&hj->mark[l->source], l)) {
		free(l->text);
		free(l);
		return;
	}
	/* a line without its own time belongs to the one above it (dcv_logs_sort's rule) */
	if (l->ms) {
		hj->last_ms[l->source] = l->ms;
		hj->last_level[l->source] = l->level;
	} else if (hj->last_ms[l->source]) {
		l->level = hj->last_level[l->source];
	}
	l->key = hj->last_ms[l->source];
	if (wanted(j, l)) {
		pthread_mutex_lock(&j->out);
		print_line(j, hj, l);
		flush_or_exit();
		pthread_mutex_unlock(&j->out);
	}
	free(l->text);
	free(l);
}

static void say(struct job *j, bool notice, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A message on stderr that does not cut into a line on stdout. */
static void say(struct job *j, bool notice, const char *fmt, ...)
{
	va_list ap;

	if (notice && j->ctx->quiet)
		return;
	pthread_mutex_lock(&j->out);
	fputs("dcvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&j->out);
}

static void output(void *user, int is_stderr, const char *data, size_t len)
{
	struct host_job *hj = user;

	if (is_stderr) {
		keep_stderr(hj, data, len);
		return;
	}
	dcv_logs_reader_feed(&hj->reader, data, len);
	if (hj->announce && hj->reader.clock.now_s) {
		hj->announce = false;
		say(hj->job, true, "%s: reconnected", hj->host->name);
	}
}

/* Run the script once on the host's connection from `pool`. The clock line is the first thing
 * the script prints: without it the command never ran (sudo wanted a password, no shell). */
static int read_host(struct job *j, struct host_job *hj, struct dcv_ssh_pool *pool,
		     const struct dcv_logs_req *req, struct dcv_err *err)
{
	struct dcv_ssh_exec x = DCV_SSH_EXEC_INIT;
	struct dcv_ssh_result res;
	struct dcv_buf script = DCV_BUF_INIT;
	struct dcv_ssh *c;
	int rc = dcv_ssh_connect(pool, hj->host, &c, err);

	if (rc != DCV_OK)
		return rc;
	dcv_logs_script(hj->src, hj->n_src, req, &script);
	x.cmd = script.data;
	x.sudo = hj->host->ssh.sudo;
	x.output = output;
	x.output_user = hj;
	x.capture = false;
	if (req->follow) {
		x.in_fd = j->stdin_fd;
		x.timeout_ms = FOLLOW_TIMEOUT_MS;
	}
	dcv_buf_reset(&hj->stderr_tail);
	dcv_ssh_result_init(&res);
	rc = dcv_ssh_run(c, &x, &res, err);
	dcv_logs_reader_finish(&hj->reader);
	if (rc == DCV_OK && !hj->reader.clock.now_s) {
		dcv_buf_rtrim(&hj->stderr_tail);
		char *why = dcv_sanitize_line(hj->stderr_tail.len ? hj->stderr_tail.data : "no output");
		rc = dcv_err_set(err, DCV_E_REMOTE, "the log command failed (status %d): %s", res.status, why);
		free(why);
	}
	dcv_ssh_result_release(&res);
	dcv_buf_release(&script);
	return rc;
}

static void read_worker(void *user, int i)
{
	struct job *j = user;
	struct host_job *hj = &j->hosts[i];

	hj->rc = read_host(j, hj, j->pool, &j->req, &hj->err);
}

/* Errors that another try cannot mend: the host refuses us, or the command cannot run. */
static bool permanent(int rc)
{
	return rc == DCV_E_AUTH || rc == DCV_E_HOSTKEY || rc == DCV_E_CONFIG || rc == DCV_E_REMOTE;
}

/* Follow one host for as long as dcvctl runs: a lost connection is made again after a pause
 * that grows from 1 s to 30 s, each time on a fresh pool (a pool keeps a host's first error),
 * and what was written meanwhile is shown. */
static void follow_worker(void *user, int i)
{
	struct job *j = user;
	struct host_job *hj = &j->hosts[i];
	struct dcv_ssh_pool *own = NULL;
	struct dcv_logs_req req = j->req;
	long backoff = 1000;

	for (;;) {
		struct dcv_err err = DCV_ERR_INIT;
		int rc;

		hj->reader.clock.now_s = 0;
		rc = read_host(j, hj, own ? own : j->pool, &req, &err);
		if (hj->reader.clock.now_s) {
			/* it ran: the next run reads the logs' ends again, and the pause starts short */
			if (!hj->start_ms)
				hj->start_ms = hj->reader.clock.now_s * 1000;
			req.lines = RESUME_LINES;
			req.since_s = 0;
			backoff = 1000;
		}
		if (rc == DCV_OK)
			dcv_err_set(&err, DCV_E_LOST, "the log command ended");
		if (permanent(rc)) {
			say(j, false, "%s: %s; giving up on this host", hj->host->name, err.msg);
			hj->rc = rc;
			break;
		}
		say(j, false, "%s: %s; reconnecting in %lds", hj->host->name, err.msg, backoff / 1000);
		hj->announce = true;
		for (int s = 0; hj->start_ms && s < hj->n_src; s++)
			dcv_logs_mark_resume(&hj->mark[s], hj->start_ms);
		usleep((useconds_t)backoff * 1000);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		dcv_ssh_pool_free(own);
		own = ctx_pool(j->ctx);
	}
	dcv_ssh_pool_free(own);
}

/* ---- the command ---- */

static void on_interrupt(int sig)
{
	(void)sig;
	_exit(EXIT_OK); /* every line was flushed as it was printed */
}

static int print_collected(struct job *j)
{
	size_t total = 0, k = 0;
	int ok = 0, failed = 0;

	for (int i = 0; i < j->n; i++)
		total += j->hosts[i].n_lines;
	struct dcv_log_line *all = xcalloc(total ? total : 1, sizeof(*all));
	for (int i = 0; i < j->n; i++) {
		struct host_job *hj = &j->hosts[i];
		for (size_t m = 0; m < hj->n_lines; m++) {
			all[k++] = *hj->lines[m];
			free(hj->lines[m]);
		}
		hj->n_lines = 0;
	}
	dcv_logs_sort(all, total);
	for (size_t m = 0; m < total; m++) {
		if (wanted(j, &all[m]))
			print_line(j, &j->hosts[all[m].host], &all[m]);
		free(all[m].text);
	}
	free(all);
	for (int i = 0; i < j->n; i++) {
		struct host_job *hj = &j->hosts[i];
		bool any = false;
		if (hj->rc != DCV_OK) {
			out_error("%s: %s", hj->host->name, hj->err.msg);
			failed++;
			continue;
		}
		ok++;
		for (int s = 0; s < hj->n_src; s++)
			any |= hj->reader.found[s];
		if (!any)
			out_notice(j->ctx, "%s: none of its logs is there", hj->host->name);
	}
	if (failed && !ok)
		return EXIT_UNREACHABLE;
	return failed ? EXIT_FAIL : EXIT_OK;
}

static void add_host(struct dcv_ctx *ctx, struct job *j, struct dcv_host *h)
{
	struct host_job *hj = &j->hosts[j->n];

	for (int i = 0; i < j->n; i++)
		if (j->hosts[i].host == h)
			return;
	hj->host = h;
	hj->job = j;
	hj->n_src = dcv_logs_sources(h, hj->src);
	if (!hj->n_src) {
		out_notice(ctx, "%s: a %s keeps no logs dcvctl reads", h->name, dcv_role_name(h->role));
		return;
	}
	dcv_logs_reader_init(&hj->reader, j->n, hj->n_src, j->follow ? follow_line : collect, hj);
	j->n++;
}

static int setup(struct dcv_ctx *ctx, const struct vars *v, struct job *j)
{
	j->follow = v->follow;
	j->errors = v->errors;
	j->json = ctx->json || v->json;
	j->req.lines = v->lines >= 0 ? (int)v->lines : v->since_ms ? SINCE_LINES : 10;
	j->req.follow = v->follow;
	if (v->since_ms) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now); /* log times are wall-clock times */
		j->since_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - v->since_ms;
		j->req.since_s = j->since_ms / 1000;
	}
	if (v->grep) {
		int rc = regcomp(&j->re, v->grep, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[256];
			regerror(rc, &j->re, msg, sizeof(msg));
			return usage_error(&dcv_cmd_logs, "bad regular expression '%s' for --grep: %s", v->grep, msg);
		}
		j->has_re = true;
	}
	return EXIT_OK;
}

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct job j = { 0 };
	struct vars v = { .lines = -1 };
	int rc = cli_parse(&dcv_cmd_logs, argc, argv, &a, &v), pipefd[2] = { -1, -1 };

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	j.ctx = ctx;
	if ((rc = setup(ctx, &v, &j)) != EXIT_OK)
		return rc;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		goto out;
	j.hosts = xcalloc((size_t)inv->n_hosts, sizeof(*j.hosts));
	for (int i = 0; i < a.n_pos; i++) {
		struct dcv_host *h = ctx_host(ctx, a.pos[i]);
		if (!h) {
			rc = EXIT_USAGE;
			goto out;
		}
		add_host(ctx, &j, h);
	}
	for (int i = 0; a.n_pos == 0 && i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_GATEWAY || inv->hosts[i]->role == DCV_ROLE_AGENT)
			add_host(ctx, &j, inv->hosts[i]);
	if (j.n == 0)
		goto out;
	pthread_mutex_init(&j.out, NULL);
	j.pool = ctx_pool(ctx);
	if (!j.follow) {
		dcv_parallel(j.n, j.n, read_worker, &j);
		rc = print_collected(&j);
	} else {
		if (pipe(pipefd) != 0) {
			out_error("pipe: %s", strerror(errno));
			rc = EXIT_INTERNAL;
			goto out;
		}
		j.stdin_fd = pipefd[0];
		signal(SIGINT, on_interrupt);
		dcv_parallel(j.n, j.n, follow_worker, &j);
		/* every host gave up (authentication, host key): nothing left to follow */
		rc = EXIT_UNREACHABLE;
	}
out:
	for (int i = 0; i < j.n; i++) {
		for (size_t m = 0; m < j.hosts[i].n_lines; m++) {
			free(j.hosts[i].lines[m]->text);
			free(j.hosts[i].lines[m]);
		}
		free(j.hosts[i].lines);
		dcv_logs_reader_release(&j.hosts[i].reader);
		dcv_buf_release(&j.hosts[i].stderr_tail);
	}
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	if (j.pool)
		dcv_ssh_pool_free(j.pool);
	free(j.hosts);
	if (j.has_re)
		regfree(&j.re);
	return rc;
}

const struct dcv_cmd dcv_cmd_logs = {
	.name = "logs",
	.summary = "the proxy's and DCV's logs of the hosts, merged by time, errors highlighted",
	.usage = "logs [-f] [--since DUR] [--grep RE] [--errors] [-n N] [--json] [HOST...]",
	.help = "Reads the logs each host's role writes, over one connection per host, all hosts at\n"
		"once: on the gateway the proxy's (nginx access and error logs; HAProxy's\n"
		"/var/log/haproxy.log or its journal) and the Connection Gateway's and Session\n"
		"Manager broker's when installed; on agents DCV's /var/log/dcv/server.log and the\n"
		"Session Manager agent's log. A unit without its file is read from its journal.\n"
		"Lines are merged by time across hosts and prefixed with host and file; errors\n"
		"(red) and warnings (yellow) are highlighted on a terminal (NO_COLOR honoured).\n"
		"With --follow each line is printed as it is written, across log rotation; a\n"
		"lost connection is made again, and said so on stderr. Ctrl-C ends it (exit 0).\n"
		"Exits 1 when some hosts could not be read, 4 when none could.\n",
	.opts = opts,
	.max_args = CLI_ARGS_MANY,
	.run = run,
};
