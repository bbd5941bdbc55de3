/* logs.h - the logs of the hosts (`dcvctl logs`): which files each host writes, the one remote
 * command that reads or follows them, and the lines it prints: their time in every format the
 * products write, their level, and the order that merges hosts by time. */
#ifndef DCV_LOGS_H
#define DCV_LOGS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct dcv_host;
struct dcv_log_source;

enum dcv_log_level {
	DCV_LOG_INFO,
	DCV_LOG_WARN,
	DCV_LOG_ERROR,
};

/* "info", "warn", "error". */
const char *dcv_log_level_name(enum dcv_log_level l);

/* The host's clock, for formats that leave out the year (syslog) or the zone (nginx's error
 * log, DCV's server.log): the remote command prints it first. */
struct dcv_log_clock {
	long long now_s;  /* the host's time, seconds since the epoch */
	int utc_offset_s; /* its local zone's offset east of UTC */
};

/* The time at the start of a log line, in ms since the epoch (UTC): ISO 8601 and its
 * relatives (DCV server.log "2026-11-30 16:44:12,123456", journalctl short-iso, RFC 3339
 * syslog, the Connection Gateway's "[2026-11-30T16:44:12.123Z]", nginx's error log
 * "2026/11/30 16:44:12"), BSD syslog "Nov 30 16:44:12", and the access logs' bracketed
 * "[30/Nov/2026:16:44:12 +0000]". False when the line carries no time it can read. */
bool dcv_log_time(const char *line, const struct dcv_log_clock *clock, long long *ms);

/* Error, warning or plain information: the level the line declares (nginx [error]/[crit],
 * DCV ERROR/WARN, the gateway's [ERROR]), HAProxy's server DOWN and "no server available",
 * an access log's 5xx status, and for lines without a level the words that mean failure. */
enum dcv_log_level dcv_log_level(const char *line);

/* Every log the host's role and proxy kind write, each a file with the unit whose journal
 * stands in when the file is absent. Fills out[] (static entries, at most
 * DCV_LOGS_MAX_SOURCES) and returns how many (0 for a bastion). */
#define DCV_LOGS_MAX_SOURCES 16
int dcv_logs_sources(const struct dcv_host *h, const struct dcv_log_source **out);

/* What to read. */
struct dcv_logs_req {
	int lines;          /* last lines of each log to show first */
	long long since_s;  /* 0, or only what was written since (epoch seconds) */
	bool follow;        /* keep printing as lines are written, across rotation */
};

/* The shell script that prints the host's clock ("@ EPOCH +HHMM"), which of the sources it
 * found ("+ INDEX file" or "+ INDEX journal"), then every line as "INDEX<TAB>line". With
 * follow it runs until its stdin closes. Appended to `out`. */
void dcv_logs_script(const struct dcv_log_source *const *src, int n, const struct dcv_logs_req *req,
		     struct dcv_buf *out);

/* One line of one source. */
struct dcv_log_line {
	int host;       /* the caller's index */
	int source;     /* index into the host's sources */
	long long seq;  /* arrival order */
	long long ms;   /* its own time, 0 when it has none */
	long long key;  /* the time it sorts by (dcv_logs_sort) */
	enum dcv_log_level level;
	char *text;     /* sanitised: one line, nothing that drives a terminal */
};

/* Reads the output of dcv_logs_script as it arrives, in pieces of any size, and hands every
 * complete line over. `text` is owned by the callee. */
typedef void (*dcv_logs_line_fn)(void *user, struct dcv_log_line *line);

struct dcv_logs_reader {
	struct dcv_buf pending;
	struct dcv_log_clock clock;
	int n_sources;
	bool journal[DCV_LOGS_MAX_SOURCES]; /* read from the unit's journal, not the file */
	bool found[DCV_LOGS_MAX_SOURCES];
	long long seq;
	bool cut; /* dropping the rest of an overlong line */
	int host;
	dcv_logs_line_fn fn;
	void *user;
};

void dcv_logs_reader_init(struct dcv_logs_reader *r, int host, int n_sources, dcv_logs_line_fn fn,
			  void *user);
void dcv_logs_reader_feed(struct dcv_logs_reader *r, const char *data, size_t len);
/* A last line without its newline. */
void dcv_logs_reader_finish(struct dcv_logs_reader *r);
void dcv_logs_reader_release(struct dcv_logs_reader *r);

/* Merge by time: a line without a time of its own sorts with the line before it in its source
 * and takes its level (a stack trace stays under its message, and is as grave); equal times
 * keep arrival order. Fills each key. */
void dcv_logs_sort(struct dcv_log_line *v, size_t n);

/* Where a follower got to in one source, so that after a reconnect (which reads the last lines
 * of each log again) what was already read is not shown twice and what was written while it was
 * away is. */
struct dcv_logs_mark {
	long long ms;      /* time of the last line read, 0 before any */
	int at_ms;         /* how many lines read carry exactly that time */
	bool resuming;     /* reading the lines again after a reconnect */
	bool dropping;     /* ... and the line above was one read before */
	long long skip_ms; /* ... lines older than this were read before */
	int skip;          /* ... and this many of those at skip_ms */
};

/* Record the next line of the source; false when it was read before the reconnect. */
bool dcv_logs_mark_next(struct dcv_logs_mark *m, const struct dcv_log_line *l);
/* A reconnect: the lines read again start now. `start_ms` is when following began (the host's
 * clock): of a source nothing was read from, only lines since then are new. */
void dcv_logs_mark_resume(struct dcv_logs_mark *m, long long start_ms);

/* The label a line's source shows: the file, or "journal:UNIT". */
const char *dcv_logs_label(const struct dcv_log_source *src, bool journal, char *buf, size_t n);

#endif
