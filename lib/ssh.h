/* ssh.h - the SSH transport on libssh: one connection per host per run, jump hosts shared.
 *
 * A pool owns every session of a run. Each session has exactly one owner at a time (libssh
 * sessions are not thread-safe): the thread that called dcv_ssh_connect for that host, or, for
 * a host used as a jump, the relay thread that carries every direct-tcpip channel through it. */
#ifndef DCV_SSH_H
#define DCV_SSH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct dcv_err;
struct dcv_host;
struct dcv_inventory;
struct dcv_ssh_pool;
struct dcv_ssh;

/* Notices a command may show: a key recorded under accept-new, connections (verbose). A
 * `warning` (a host key let through by host-key-policy = off) must reach the operator even
 * when notices are silenced. */
typedef void (*dcv_ssh_notice_fn)(void *user, const struct dcv_host *host, bool warning, const char *msg);
/* Every command sent to a host, as the host's shell receives it (sudo wrapper included), with
 * the bytes given on its stdin: for a trace that can be replayed on the host. Called from the
 * threads that run the commands. */
typedef void (*dcv_ssh_trace_fn)(void *user, const struct dcv_host *host, const char *cmd, const char *in,
				 size_t in_len);

struct dcv_ssh_pool_opts {
	const char *agent_sock; /* ssh-agent socket, NULL when none */
	dcv_ssh_notice_fn notice;
	void *notice_user;
	bool verbose; /* also a notice for every connection made */
	dcv_ssh_trace_fn trace; /* NULL: no trace */
	void *trace_user;
};

/* The pool borrows inv, which must outlive it. */
struct dcv_ssh_pool *dcv_ssh_pool_new(const struct dcv_inventory *inv,
				      const struct dcv_ssh_pool_opts *opts);
/* Disconnects everything (inner sessions before the jump hosts they ride on). */
void dcv_ssh_pool_free(struct dcv_ssh_pool *pool);

/* Connect once per run and return the host's connection (later calls return the same one, or
 * the same error). Blocks for at most the host's connect-timeout, plus the time to reach its
 * jump host. Thread-safe for different hosts. */
int dcv_ssh_connect(struct dcv_ssh_pool *pool, const struct dcv_host *host, struct dcv_ssh **out,
		    struct dcv_err *err);

/* Connection facts, valid after a successful connect. */
long dcv_ssh_connect_ms(const struct dcv_ssh *c);
const char *dcv_ssh_hostkey(const struct dcv_ssh *c); /* "ssh-ed25519 SHA256:..." */
/* False when host-key-policy = off let an unknown or changed host key through. */
bool dcv_ssh_hostkey_verified(const struct dcv_ssh *c);
/* Connections this pool opened to a host's SSH endpoint (for tests and benchmarks). */
int dcv_ssh_pool_connections(const struct dcv_ssh_pool *pool, const struct dcv_host *host);

typedef void (*dcv_ssh_output_fn)(void *user, int is_stderr, const char *data, size_t len);

struct dcv_ssh_exec {
	const char *cmd;      /* a shell command line; quote every value with dcv_shquote */
	bool sudo;            /* run as root with `sudo -n` (when the host's sudo = yes) */
	const char *in;       /* data for the command's stdin, or NULL */
	size_t in_len;
	int in_fd;            /* or stream this fd to stdin until EOF (-1: none) */
	dcv_ssh_output_fn output; /* called as output arrives, or NULL */
	void *output_user;
	bool capture;         /* keep stdout/stderr in the result */
	long timeout_ms;      /* 0: the host's command-timeout */
};

#define DCV_SSH_EXEC_INIT { NULL, false, NULL, 0, -1, NULL, NULL, true, 0 }

struct dcv_ssh_result {
	int status; /* remote exit status; 255 when killed by a signal */
	struct dcv_buf out;
	struct dcv_buf err;
	long ms;
};

void dcv_ssh_result_init(struct dcv_ssh_result *r);
void dcv_ssh_result_release(struct dcv_ssh_result *r);

/* Run one command on the connection. A non-zero remote status is a result, not an error;
 * errors are DCV_E_LOST, DCV_E_TIMEOUT and DCV_E_REMOTE (sudo wants a password). */
int dcv_ssh_run(struct dcv_ssh *c, const struct dcv_ssh_exec *req, struct dcv_ssh_result *res,
		struct dcv_err *err);

/* A command left running for as long as the caller holds it (a remote lock whose lifetime is
 * the connection's): runs `cmd` (with sudo when asked), waits for its first line of output and
 * returns it in `first`. If the command exits before printing a line, *hold stays NULL and
 * `status` is its exit status. Release with dcv_ssh_unhold (closing its stdin). */
struct dcv_ssh_hold;
int dcv_ssh_hold(struct dcv_ssh *c, const char *cmd, bool sudo, struct dcv_buf *first,
		 int *status, struct dcv_ssh_hold **hold, struct dcv_err *err);
void dcv_ssh_unhold(struct dcv_ssh_hold *hold);

/* Time of one request/response on the open connection (a channel open and close). */
int dcv_ssh_ping(struct dcv_ssh *c, long *ms, struct dcv_err *err);

/* Hand the connection to its own relay thread, after which any number of threads may run
 * commands and open tunnels on it at once (each command is read as its output arrives). */
int dcv_ssh_share(struct dcv_ssh *c, struct dcv_err *err);

/* Open a TCP stream from the host's vantage point (direct-tcpip) and return a local socket
 * carrying it; the connection's owner thread copies bytes. Caller closes the fd. */
int dcv_ssh_tunnel(struct dcv_ssh *c, const char *host, int port, int *fd, struct dcv_err *err);

/* [ssh] parallel when unset: handshakes in flight, and heavy remote work at once. */
#define DCV_SSH_PARALLEL 16

/* Heavy remote work (a service restart, a package install, a session created) runs at most
 * `parallel` at a time across the pool's hosts. Blocks until a slot is free; under verbose a
 * wait is a notice naming `what`. Every acquire is paired with one release. */
void dcv_ssh_slot_acquire(struct dcv_ssh_pool *pool, const struct dcv_host *h, const char *what);
void dcv_ssh_slot_release(struct dcv_ssh_pool *pool);

/* Run fn(user, host_index) for every index in [0, n) on up to `workers` threads. */
void dcv_parallel(int n, int workers, void (*fn)(void *user, int i), void *user);

#endif
