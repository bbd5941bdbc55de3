#include "ssh.h"

#include "err.h"
#include "inventory.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct relay;

struct dcv_ssh {
	struct dcv_ssh_pool *pool;
	const struct dcv_host *host;
	pthread_mutex_t lock; /* held while connecting */
	int state;            /* 0 not tried, 1 connected, -1 failed */
	struct dcv_err fail;  /* the error, when state == -1 */
	ssh_session s;
	long connect_ms;
	char hostkey[160];
	bool hostkey_unverified; /* let through by host-key-policy = off */
	int connections; /* TCP/channel connections made to this host's SSH endpoint */
	struct relay *relay; /* set once the session is owned by a relay thread */
};

/* A counting semaphore: `free` slots left. */
struct sem {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int free;
};

struct dcv_ssh_pool {
	const struct dcv_inventory *inv;
	struct dcv_ssh_pool_opts opts;
	struct dcv_ssh *conns; /* one per inventory host */
	pthread_mutex_t lock;  /* known_hosts writes, relay list */
	/* bound on handshakes in flight (design §6: a fleet must not trip MaxStartups) */
	struct sem handshakes;
	/* bound on heavy remote work (restarts, installs, sessions): 200 dcvserver restarts at
	 * once time out on a small machine (issue 12) */
	struct sem heavy;
	struct relay **relays; /* creation order; freed in reverse */
	int n_relays;
};

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;

static void init_libssh(void)
{
	ssh_init();
}

/* ------------------------------------------------------------------ pool */

static void sem_init_n(struct sem *s, int n)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->free = n;
}

static void sem_destroy(struct sem *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}


struct dcv_ssh_pool *dcv_ssh_pool_new(const struct dcv_inventory *inv,
				      const struct dcv_ssh_pool_opts *opts)
{
	struct dcv_ssh_pool *pool = xcalloc(1, sizeof(*pool));

	pthread_once(&ssh_once, init_libssh);
	pool->inv = inv;
	if (opts)
		pool->opts = *opts;
	pool->conns = xcalloc((size_t)inv->n_hosts, sizeof(*pool->conns));
	for (int i = 0; i < inv->n_hosts; i++) {
		pool->conns[i].pool = pool;
		pool->conns[i].host = inv->hosts[i];
		pthread_mutex_init(&pool->conns[i].lock, NULL);
	}
	pthread_mutex_init(&pool->lock, NULL);
	sem_init_n(&pool->handshakes, inv->ssh.parallel > 0 ? (int)inv->ssh.parallel : DCV_SSH_PARALLEL);
	sem_init_n(&pool->heavy, inv->ssh.parallel > 0 ? (int)inv->ssh.parallel : DCV_SSH_PARALLEL);
	return pool;
}

static struct dcv_ssh *conn_of(struct dcv_ssh_pool *pool, const struct dcv_host *h)
{
	for (int i = 0; i < pool->inv->n_hosts; i++)
		if (pool->inv->hosts[i] == h)
			return &pool->conns[i];
	return NULL;
}

int dcv_ssh_pool_connections(const struct dcv_ssh_pool *pool, const struct dcv_host *host)
{
	struct dcv_ssh *c = conn_of((struct dcv_ssh_pool *)pool, host);
	return c ? c->connections : 0;
}

/* Blocks until a slot is free; returns how long it waited in ms, -1 when a slot was free at once. */
static long sem_acquire(struct sem *s)
{
	long long t0 = -1;

	pthread_mutex_lock(&s->lock);
	if (s->free == 0)
		t0 = dcv_now_ms();
	while (s->free == 0)
		pthread_cond_wait(&s->cond, &s->lock);
	s->free--;
	pthread_mutex_unlock(&s->lock);
	return t0 < 0 ? -1 : (long)(dcv_now_ms() - t0);
}

static void sem_release(struct sem *s)
{
	pthread_mutex_lock(&s->lock);
	s->free++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void notice(struct dcv_ssh_pool *pool, const struct dcv_host *h, bool warning, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void notice(struct dcv_ssh_pool *pool, const struct dcv_host *h, bool warning, const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	if (!pool->opts.notice)
		return;
	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	pool->opts.notice(pool->opts.notice_user, h, warning, dcv_buf_str(&b));
	dcv_buf_release(&b);
}

/* Under -v, time spent queueing is worth a line: under load it explains a slow host. */
static void waited(struct dcv_ssh_pool *pool, const struct dcv_host *h, const char *what, long ms)
{
	if (ms >= 0 && pool->opts.verbose)
		notice(pool, h, false, "waited %ld ms for a slot (%s, parallel = %d)", ms, what,
		       pool->inv->ssh.parallel > 0 ? (int)pool->inv->ssh.parallel : DCV_SSH_PARALLEL);
}

void dcv_ssh_slot_acquire(struct dcv_ssh_pool *pool, const struct dcv_host *h, const char *what)
{
	waited(pool, h, what, sem_acquire(&pool->heavy));
}

void dcv_ssh_slot_release(struct dcv_ssh_pool *pool)
{
	sem_release(&pool->heavy);
}

/* ------------------------------------------------------------------ relay */

/* A relay thread owns one session and carries direct-tcpip channels for the hosts behind it,
 * copying bytes between each channel and a socketpair. Other threads reach the session only
 * through requests on its control pipe. */

enum req_kind { REQ_OPEN, REQ_EXEC, REQ_PING };

struct req {
	enum req_kind kind;
	/* REQ_OPEN */
	const char *host;
	int port;
	int fd;
	/* REQ_EXEC */
	const struct dcv_ssh_exec *exec;
	struct dcv_ssh_result *res;
	long ping_ms;
	int rc;
	struct dcv_err *err;
	bool done;
	struct req *next;
};

struct pipe_chan {
	ssh_channel ch;
	int sock;
	bool sock_eof; /* the local side finished writing */
	bool ch_eof;   /* the remote side finished writing */
};

/* A command running on a relay's session, read as its output arrives so that forwarding
 * never waits for it. */
struct ajob {
	struct req *q;
	ssh_channel ch;
	bool eof[2];
	long long start, deadline;
};

struct relay {
	struct dcv_ssh *conn;
	struct ajob *jobs;
	int n_jobs;
	pthread_t thread;
	int ctl[2];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct req *queue;
	bool stop;
	bool dead; /* the session is gone: refuse new requests */
	struct pipe_chan *chans;
	int n_chans;
};

static int run_blocking(struct dcv_ssh *c, const struct dcv_ssh_exec *req,
			struct dcv_ssh_result *res, struct dcv_err *err);
static int ping_blocking(struct dcv_ssh *c, long *ms, struct dcv_err *err);

static int open_forward(struct relay *r, const char *host, int port, int *fd, struct dcv_err *err)
{
	ssh_session s = r->conn->s;
	ssh_channel ch = ssh_channel_new(s);
	int sv[2];

	if (!ch)
		return dcv_err_set(err, DCV_E_LOST, "cannot open a channel: %s", ssh_get_error(s));
	if (ssh_channel_open_forward(ch, host, port, "127.0.0.1", 0) != SSH_OK) {
		int rc = dcv_err_set(err, ssh_is_connected(s) ? DCV_E_CONNECT : DCV_E_LOST,
				     "cannot open a TCP channel to %s:%d through %s: %s", host, port,
				     r->conn->host->name, ssh_get_error(s));
		ssh_channel_free(ch);
		return rc;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ssh_channel_free(ch);
		return dcv_err_set(err, DCV_E_IO, "socketpair: %s", strerror(errno));
	}
	r->chans = xrealloc(r->chans, sizeof(*r->chans) * (size_t)(r->n_chans + 1));
	r->chans[r->n_chans++] = (struct pipe_chan){ ch, sv[0], false, false };
	*fd = sv[1];
	return DCV_OK;
}

static void close_chan(struct relay *r, int i)
{
	struct pipe_chan *pc = &r->chans[i];

	if (pc->ch) {
		ssh_channel_close(pc->ch);
		ssh_channel_free(pc->ch);
	}
	close(pc->sock);
	r->chans[i] = r->chans[--r->n_chans];
}

static void complete(struct relay *r, struct req *q, int rc)
{
	pthread_mutex_lock(&r->lock);
	q->rc = rc;
	q->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int exec_start(struct dcv_ssh *c, const struct dcv_ssh_exec *req, ssh_channel *out,
		      struct dcv_err *err);
static int exec_read(struct dcv_ssh *c, ssh_channel ch, const struct dcv_ssh_exec *req,
		     struct dcv_ssh_result *res, bool eof[2], struct dcv_err *err);
static int exec_finish(struct dcv_ssh *c, ssh_channel ch, const struct dcv_ssh_exec *req,
		       struct dcv_ssh_result *res, long long deadline, struct dcv_err *err);
static void exec_close(struct dcv_ssh *c, ssh_channel ch, struct dcv_ssh_result *res, long long start);
static int timed_out(const struct dcv_ssh *c, const struct dcv_ssh_exec *req, struct dcv_err *err);
static long exec_timeout(const struct dcv_ssh *c, const struct dcv_ssh_exec *req);

/* Start a command as a job of the relay loop; false when it completed (failed) at once. */
static bool job_start(struct relay *r, struct req *q)
{
	struct ajob j = { q, NULL, { false, false }, dcv_now_ms(), 0 };
	int rc = exec_start(r->conn, q->exec, &j.ch, q->err);

	if (rc != DCV_OK) {
		complete(r, q, rc);
		return false;
	}
	j.deadline = j.start + exec_timeout(r->conn, q->exec);
	r->jobs = xrealloc(r->jobs, sizeof(*r->jobs) * (size_t)(r->n_jobs + 1));
	r->jobs[r->n_jobs++] = j;
	return true;
}

/* Advance every job; a job that ended (or failed, or the session died) completes. */
static void jobs_pump(struct relay *r, bool dead)
{
	for (int i = r->n_jobs - 1; i >= 0; i--) {
		struct ajob *j = &r->jobs[i];
		int rc = dead ? dcv_err_set(j->q->err, DCV_E_LOST, "connection to %s lost", r->conn->host->name)
			      : exec_read(r->conn, j->ch, j->q->exec, j->q->res, j->eof, j->q->err);
		bool ended = rc != DCV_OK || (j->eof[0] && j->eof[1]);

		if (rc == DCV_OK && !ended && dcv_now_ms() > j->deadline) {
			rc = timed_out(r->conn, j->q->exec, j->q->err);
			ended = true;
		}
		if (!ended)
			continue;
		if (rc == DCV_OK)
			rc = exec_finish(r->conn, j->ch, j->q->exec, j->q->res, j->deadline, j->q->err);
		exec_close(r->conn, j->ch, j->q->res, j->start);
		complete(r, j->q, rc);
		r->jobs[i] = r->jobs[--r->n_jobs];
	}
}

static void serve_requests(struct relay *r)
{
	struct req *q;
	char drain[64];

	while (read(r->ctl[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&r->lock);
	q = r->queue;
	r->queue = NULL;
	pthread_mutex_unlock(&r->lock);
	while (q) {
		struct req *next = q->next;
		if (r->dead)
			q->rc = dcv_err_set(q->err, DCV_E_LOST, "connection to %s lost",
					    r->conn->host->name);
		else if (q->kind == REQ_OPEN)
			q->rc = open_forward(r, q->host, q->port, &q->fd, q->err);
		else if (q->kind == REQ_EXEC && q->exec->in_fd < 0) {
			/* completes later, from jobs_pump */
			job_start(r, q);
			q = next;
			continue;
		} else if (q->kind == REQ_EXEC)
			q->rc = run_blocking(r->conn, q->exec, q->res, q->err);
		else
			q->rc = ping_blocking(r->conn, &q->ping_ms, q->err);
		complete(r, q, q->rc);
		q = next;
	}
}

/* Copy what is ready in both directions. Returns false when the session died. */
static bool pump(struct relay *r, const struct pollfd *pfd)
{
	char buf[32768];

	for (int i = 0; i < r->n_chans; i++) {
		struct pipe_chan *pc = &r->chans[i];
		const struct pollfd *p = &pfd[2 + i];

		if (!pc->sock_eof && p->fd == pc->sock && (p->revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(pc->sock, buf, sizeof(buf));
			if (n > 0) {
				if (ssh_channel_write(pc->ch, buf, (uint32_t)n) != n)
					return ssh_is_connected(r->conn->s);
			} else if (n == 0 || errno != EAGAIN) {
				pc->sock_eof = true;
				ssh_channel_send_eof(pc->ch);
			}
		}
	}
	for (int i = 0; i < r->n_chans; i++) {
		struct pipe_chan *pc = &r->chans[i];
		int n;

		while (!pc->ch_eof && (n = ssh_channel_read_nonblocking(pc->ch, buf, sizeof(buf), 0)) > 0) {
			for (int off = 0; off < n;) {
				ssize_t w = write(pc->sock, buf + off, (size_t)(n - off));
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					pc->ch_eof = true;
					break;
				}
				off += (int)w;
			}
		}
		if (!pc->ch_eof && (ssh_channel_is_eof(pc->ch) || ssh_channel_is_closed(pc->ch))) {
			pc->ch_eof = true;
			shutdown(pc->sock, SHUT_WR);
		}
	}
	for (int i = r->n_chans - 1; i >= 0; i--)
		if (r->chans[i].ch_eof && r->chans[i].sock_eof)
			close_chan(r, i);
	return ssh_is_connected(r->conn->s) != 0;
}

/* Reading one channel makes libssh take in the packets of all: data may be waiting in a
 * channel's buffer with nothing left on the socket to wake poll(). */
static bool buffered(struct relay *r)
{
	if (r->dead)
		return false;
	for (int i = 0; i < r->n_chans; i++)
		if (!r->chans[i].ch_eof && ssh_channel_poll(r->chans[i].ch, 0) > 0)
			return true;
	for (int i = 0; i < r->n_jobs; i++)
		if (ssh_channel_poll(r->jobs[i].ch, 0) > 0 || ssh_channel_poll(r->jobs[i].ch, 1) > 0)
			return true;
	return false;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct pollfd *pfd = NULL;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		bool stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
		pfd = xrealloc(pfd, sizeof(*pfd) * (size_t)(r->n_chans + 2));
		pfd[0] = (struct pollfd){ r->ctl[0], POLLIN, 0 };
		pfd[1] = (struct pollfd){ r->dead ? -1 : ssh_get_fd(r->conn->s), POLLIN, 0 };
		for (int i = 0; i < r->n_chans; i++)
			pfd[2 + i] = (struct pollfd){ r->chans[i].sock_eof ? -1 : r->chans[i].sock,
						      POLLIN, 0 };
		if (poll(pfd, (nfds_t)(r->n_chans + 2), buffered(r) ? 0 : 200) < 0 && errno != EINTR)
			break;
		if (!r->dead && !pump(r, pfd)) {
			/* Session gone: every host behind it sees EOF and reports a lost connection. */
			r->dead = true;
			while (r->n_chans)
				close_chan(r, 0);
		}
		jobs_pump(r, r->dead);
		if (pfd[0].revents & POLLIN)
			serve_requests(r);
	}
	while (r->n_chans)
		close_chan(r, 0);
	jobs_pump(r, true);
	free(pfd);
	return NULL;
}

static int relay_call(struct relay *r, struct req *q)
{
	q->done = false;
	pthread_mutex_lock(&r->lock);
	q->next = r->queue;
	r->queue = q;
	pthread_mutex_unlock(&r->lock);
	if (write(r->ctl[1], "x", 1) < 0 && errno != EAGAIN)
		return dcv_err_set(q->err, DCV_E_INTERNAL, "relay: %s", strerror(errno));
	pthread_mutex_lock(&r->lock);
	while (!q->done)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	return q->rc;
}

/* Hand the (connected) session of c to a new relay thread. Called with c->lock held. */
static int relay_start(struct dcv_ssh *c, struct dcv_err *err)
{
	struct relay *r = xcalloc(1, sizeof(*r));

	r->conn = c;
	if (pipe2(r->ctl, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(r);
		return dcv_err_set(err, DCV_E_IO, "pipe: %s", strerror(errno));
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		close(r->ctl[0]);
		close(r->ctl[1]);
		free(r);
		return dcv_err_set(err, DCV_E_INTERNAL, "cannot start a relay thread");
	}
	c->relay = r;
	pthread_mutex_lock(&c->pool->lock);
	c->pool->relays = xrealloc(c->pool->relays, sizeof(*c->pool->relays) *
							(size_t)(c->pool->n_relays + 1));
	c->pool->relays[c->pool->n_relays++] = r;
	pthread_mutex_unlock(&c->pool->lock);
	return DCV_OK;
}

static void relay_stop(struct relay *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	if (write(r->ctl[1], "x", 1) < 0) {
		/* the pipe is non-blocking and never full here; the thread also polls with a timeout */
	}
	pthread_join(r->thread, NULL);
	close(r->ctl[0]);
	close(r->ctl[1]);
	free(r->chans);
	free(r->jobs);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

/* ------------------------------------------------------------------ connect */

static void set_timeout(ssh_session s, long ms)
{
	long sec = ms / 1000, usec = (ms % 1000) * 1000;

	if (ms <= 0)
		sec = 0, usec = 1000;
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec);
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

static const char *endpoint_name(const struct dcv_host *h, char *buf, size_t n)
{
	if (h->ssh_port == 22)
		snprintf(buf, n, "%s", h->ssh_host);
	else
		snprintf(buf, n, "[%s]:%d", h->ssh_host, h->ssh_port);
	return buf;
}

static int verify_hostkey(struct dcv_ssh *c, struct dcv_err *err)
{
	const struct dcv_host *h = c->host;
	ssh_session s = c->s;
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;
	char where[300];
	const char *kh = h->ssh.known_hosts ? h->ssh.known_hosts : "known_hosts";
	int rc = DCV_OK;
	enum ssh_known_hosts_e state;

	if (ssh_get_server_publickey(s, &key) != SSH_OK)
		return dcv_err_set(err, DCV_E_CONNECT, "no host key from server: %s", ssh_get_error(s));
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0)
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	snprintf(c->hostkey, sizeof(c->hostkey), "%s %s", ssh_key_type_to_char(ssh_key_type(key)),
		 fp ? fp : "?");
	endpoint_name(h, where, sizeof(where));

	state = ssh_session_is_known_server(s);
	switch (state) {
	case SSH_KNOWN_HOSTS_OK:
		break;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		if (h->ssh.host_key_policy == DCV_HOSTKEY_OFF) {
			c->hostkey_unverified = true;
			notice(c->pool, h, true, "warning: host key for %s does not match %s (%s); connecting anyway because host-key-policy = off",
			       where, kh, c->hostkey);
			break;
		}
		rc = dcv_err_set(err, DCV_E_HOSTKEY,
				 "host key for %s CHANGED: the server now offers %s, which does not match %s; "
				 "refusing to connect (possible man-in-the-middle). If the host was rebuilt, "
				 "remove the old key: ssh-keygen -R '%s' -f %s",
				 where, c->hostkey, kh, where, kh);
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		if (h->ssh.host_key_policy == DCV_HOSTKEY_OFF) {
			c->hostkey_unverified = true;
			notice(c->pool, h, true, "warning: host key for %s not verified (%s): host-key-policy = off",
			       where, c->hostkey);
			break;
		}
		if (h->ssh.host_key_policy == DCV_HOSTKEY_ACCEPT_NEW) {
			pthread_mutex_lock(&c->pool->lock);
			int w = ssh_session_update_known_hosts(s);
			pthread_mutex_unlock(&c->pool->lock);
			if (w != SSH_OK)
				rc = dcv_err_set(err, DCV_E_HOSTKEY, "cannot record host key for %s in %s: %s",
						 where, kh, ssh_get_error(s));
			else
				notice(c->pool, h, false, "recorded new host key for %s in %s: %s", where, kh,
				       c->hostkey);
			break;
		}
		rc = dcv_err_set(err, DCV_E_HOSTKEY,
				 "host key for %s is unknown (%s); refusing under host-key-policy = strict. "
				 "Check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), "
				 "then run once with host-key-policy = accept-new for [%s] or add the key to %s",
				 where, c->hostkey, h->name, kh);
		break;
	case SSH_KNOWN_HOSTS_ERROR:
	default:
		rc = dcv_err_set(err, DCV_E_HOSTKEY, "cannot check host key for %s against %s: %s", where,
				 kh, ssh_get_error(s));
		break;
	}
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return rc;
}

/* Without a callback libssh (through OpenSSL's default PEM callback) would ask for the
 * passphrase on the terminal, hanging a parallel or unattended run: refuse, and remember
 * that a passphrase was wanted. */
static int refuse_passphrase(const char *prompt, char *buf, size_t len, int echo, int verify,
			     void *userdata)
{
	(void)prompt, (void)buf, (void)len, (void)echo, (void)verify;
	*(bool *)userdata = true;
	return -1;
}

static int auth_timed_out(const struct dcv_ssh *c, struct dcv_err *err)
{
	return dcv_err_set(err, DCV_E_CONNECT,
			   "authentication as '%s' timed out after %lds: the host took the connection but did "
			   "not answer in time (busy? raise connect-timeout)", c->host->user,
			   (c->host->ssh.connect_timeout_ms + 999) / 1000);
}

static int authenticate(struct dcv_ssh *c, long long deadline, struct dcv_err *err)
{
	const struct dcv_host *h = c->host;
	ssh_session s = c->s;
	struct dcv_buf tried = DCV_BUF_INIT;
	int rc;

	for (int i = 0; i < h->ssh.n_identity; i++) {
		ssh_key key = NULL;
		const char *path = h->ssh.identity[i];
		bool encrypted = false;

		if (access(path, R_OK) != 0) {
			dcv_buf_addf(&tried, "%s%s (%s)", tried.len ? ", " : "", path, strerror(errno));
			continue;
		}
		if (ssh_pki_import_privkey_file(path, NULL, refuse_passphrase, &encrypted, &key) != SSH_OK) {
			dcv_buf_addf(&tried, "%s%s (%s)", tried.len ? ", " : "", path,
				     encrypted ? "encrypted key, use ssh-agent" : "not a private key libssh can read");
			continue;
		}
		set_timeout(s, deadline - dcv_now_ms());
		rc = ssh_userauth_publickey(s, NULL, key);
		ssh_key_free(key);
		if (rc == SSH_AUTH_SUCCESS) {
			dcv_buf_release(&tried);
			return DCV_OK;
		}
		if (rc == SSH_AUTH_AGAIN || dcv_now_ms() >= deadline) {
			/* libssh gives up waiting for the server's answer at the timeout: a host too
			 * busy to answer has not refused anything */
			dcv_buf_release(&tried);
			return auth_timed_out(c, err);
		}
		if (rc == SSH_AUTH_ERROR) {
			dcv_buf_release(&tried);
			return dcv_err_set(err, DCV_E_LOST, "authentication failed: %s", ssh_get_error(s));
		}
		dcv_buf_addf(&tried, "%s%s (refused)", tried.len ? ", " : "", path);
	}
	if (c->pool->opts.agent_sock) {
		ssh_options_set(s, SSH_OPTIONS_IDENTITY_AGENT, c->pool->opts.agent_sock);
		set_timeout(s, deadline - dcv_now_ms());
		rc = ssh_userauth_agent(s, NULL);
		if (rc == SSH_AUTH_SUCCESS) {
			dcv_buf_release(&tried);
			return DCV_OK;
		}
		if (rc == SSH_AUTH_AGAIN || dcv_now_ms() >= deadline) {
			dcv_buf_release(&tried);
			return auth_timed_out(c, err);
		}
		dcv_buf_addf(&tried, "%sssh-agent (%s)", tried.len ? ", " : "",
			     rc == SSH_AUTH_ERROR ? ssh_get_error(s) : "no key accepted");
	}
	rc = dcv_err_set(err, DCV_E_AUTH, "authentication as '%s' refused; tried %s", h->user,
			 tried.len ? dcv_buf_str(&tried) : "no identity (set 'identity' or start ssh-agent)");
	dcv_buf_release(&tried);
	return rc;
}

/* Make and connect c->s, over `fd` when it rides a tunnel (fd >= 0). */
static int handshake(struct dcv_ssh *c, int fd, long long deadline, struct dcv_err *err)
{
	const struct dcv_host *h = c->host;
	int no = 0, yes = 1, port = h->ssh_port;
	ssh_session s = ssh_new();
	char where[300];

	if (!s)
		return dcv_err_set(err, DCV_E_INTERNAL, "ssh_new failed");
	c->s = s;
	ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no); /* the inventory is the only config */
	/* Small request/response exchanges: without TCP_NODELAY each waits out delayed ACKs. */
	ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes);
	ssh_options_set(s, SSH_OPTIONS_HOST, h->ssh_host);
	ssh_options_set(s, SSH_OPTIONS_PORT, &port);
	ssh_options_set(s, SSH_OPTIONS_USER, h->user);
	if (h->ssh.known_hosts)
		ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, h->ssh.known_hosts);
	if (fd >= 0)
		ssh_options_set(s, SSH_OPTIONS_FD, &fd);
	set_timeout(s, deadline - dcv_now_ms());
	c->connections++;
	if (ssh_connect(s) != SSH_OK) {
		bool late = dcv_now_ms() >= deadline - 5;
		endpoint_name(h, where, sizeof(where));
		if (late)
			return dcv_err_set(err, DCV_E_CONNECT, "cannot connect to %s: timed out after %lds",
					   where, (h->ssh.connect_timeout_ms + 999) / 1000);
		return dcv_err_set(err, DCV_E_CONNECT, "cannot connect to %s: %s", where,
				   ssh_get_error(s));
	}
	int rc = verify_hostkey(c, err);
	if (rc == DCV_OK)
		rc = authenticate(c, deadline, err);
	if (rc == DCV_OK && dcv_now_ms() > deadline)
		rc = dcv_err_set(err, DCV_E_CONNECT, "connect and authentication took longer than %lds",
				 (h->ssh.connect_timeout_ms + 999) / 1000);
	return rc;
}

static struct relay *ensure_relay(struct dcv_ssh *c, struct dcv_err *err);

static int connect_locked(struct dcv_ssh *c, struct dcv_err *err)
{
	const struct dcv_host *h = c->host;
	int fd = -1, rc;
	long long start, deadline;

	if (h->jump) {
		struct dcv_ssh *j = conn_of(c->pool, h->jump);
		struct relay *r = ensure_relay(j, err);
		struct req q = { .kind = REQ_OPEN, .host = h->ssh_host, .port = h->ssh_port, .err = err };

		if (!r) {
			dcv_err_prefix(err, "via %s: ", h->jump->name);
			return err->code;
		}
		waited(c->pool, h, "handshake", sem_acquire(&c->pool->handshakes));
		rc = relay_call(r, &q);
		if (rc != DCV_OK) {
			sem_release(&c->pool->handshakes);
			return rc;
		}
		fd = q.fd;
	} else {
		waited(c->pool, h, "handshake", sem_acquire(&c->pool->handshakes));
	}
	start = dcv_now_ms();
	deadline = start + h->ssh.connect_timeout_ms;
	rc = handshake(c, fd, deadline, err);
	sem_release(&c->pool->handshakes);
	if (rc != DCV_OK) {
		if (c->s) {
			ssh_disconnect(c->s);
			ssh_free(c->s);
			c->s = NULL;
		} else if (fd >= 0) {
			close(fd);
		}
		return rc;
	}
	c->connect_ms = (long)(dcv_now_ms() - start);
	set_timeout(c->s, h->ssh.command_timeout_ms);
	if (c->pool->opts.verbose) {
		char where[300];
		notice(c->pool, h, false, "connected to %s as %s%s%s in %ld ms, host key %s", endpoint_name(h, where, sizeof(where)),
		       h->user, h->jump ? " via " : "", h->jump ? h->jump->name : "", c->connect_ms, c->hostkey);
	}
	return DCV_OK;
}

/* Is this host the jump host of another one in the inventory? */
static bool is_jump_host(const struct dcv_ssh *c)
{
	const struct dcv_inventory *inv = c->pool->inv;

	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->jump == c->host)
			return true;
	return false;
}

static int connect_conn(struct dcv_ssh *c, struct dcv_err *err)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	if (c->state == 0) {
		rc = connect_locked(c, &c->fail);
		/* A jump host's session belongs to its relay thread from the start, so no other
		 * thread ever uses it directly while channels are being carried through it. */
		if (rc == DCV_OK && is_jump_host(c))
			rc = relay_start(c, &c->fail);
		c->state = rc == DCV_OK ? 1 : -1;
	}
	rc = c->state == 1 ? DCV_OK : c->fail.code;
	if (rc != DCV_OK && err)
		*err = c->fail;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static struct relay *ensure_relay(struct dcv_ssh *c, struct dcv_err *err)
{
	struct relay *r = NULL;

	if (connect_conn(c, err) != DCV_OK)
		return NULL;
	pthread_mutex_lock(&c->lock);
	if (!c->relay)
		relay_start(c, err);
	r = c->relay;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int dcv_ssh_connect(struct dcv_ssh_pool *pool, const struct dcv_host *host, struct dcv_ssh **out,
		    struct dcv_err *err)
{
	struct dcv_ssh *c = conn_of(pool, host);
	int rc;

	if (!c)
		return dcv_err_set(err, DCV_E_USAGE, "host '%s' is not in the inventory", host->name);
	rc = connect_conn(c, err);
	if (rc == DCV_OK)
		*out = c;
	return rc;
}

long dcv_ssh_connect_ms(const struct dcv_ssh *c)
{
	return c->connect_ms;
}

const char *dcv_ssh_hostkey(const struct dcv_ssh *c)
{
	return c->hostkey;
}

bool dcv_ssh_hostkey_verified(const struct dcv_ssh *c)
{
	return !c->hostkey_unverified;
}

void dcv_ssh_pool_free(struct dcv_ssh_pool *pool)
{
	if (!pool)
		return;
	for (int i = 0; i < pool->inv->n_hosts; i++) {
		struct dcv_ssh *c = &pool->conns[i];
		if (c->s && !c->relay) {
			ssh_disconnect(c->s);
			ssh_free(c->s);
			c->s = NULL;
		}
	}
	/* Inner relays were created after the relays they ride on: stop them first. */
	for (int i = pool->n_relays - 1; i >= 0; i--) {
		struct dcv_ssh *c = pool->relays[i]->conn;
		relay_stop(pool->relays[i]);
		ssh_disconnect(c->s);
		ssh_free(c->s);
		c->s = NULL;
		c->relay = NULL;
	}
	for (int i = 0; i < pool->inv->n_hosts; i++)
		pthread_mutex_destroy(&pool->conns[i].lock);
	free(pool->relays);
	free(pool->conns);
	pthread_mutex_destroy(&pool->lock);
	sem_destroy(&pool->handshakes);
	sem_destroy(&pool->heavy);
	free(pool);
}

/* ------------------------------------------------------------------ exec */

void dcv_ssh_result_init(struct dcv_ssh_result *r)
{
	memset(r, 0, sizeof(*r));
}

void dcv_ssh_result_release(struct dcv_ssh_result *r)
{
	dcv_buf_release(&r->out);
	dcv_buf_release(&r->err);
}

static int lost(struct dcv_ssh *c, struct dcv_err *err)
{
	return dcv_err_set(err, DCV_E_LOST, "connection lost: %s", ssh_get_error(c->s));
}

static void deliver(const struct dcv_ssh_exec *req, struct dcv_ssh_result *res, int is_stderr,
		    const char *p, size_t n)
{
	if (req->capture)
		dcv_buf_add(is_stderr ? &res->err : &res->out, p, n);
	if (req->output)
		req->output(req->output_user, is_stderr, p, n);
}

/* Write the request's stdin: the buffer at once, an fd as it becomes readable. */
static int feed_stdin(struct dcv_ssh *c, ssh_channel ch, const struct dcv_ssh_exec *req,
		      bool *fd_open, struct dcv_err *err)
{
	char buf[16384];
	ssize_t n;

	if (!*fd_open)
		return DCV_OK;
	n = read(req->in_fd, buf, sizeof(buf));
	if (n > 0) {
		if (ssh_channel_write(ch, buf, (uint32_t)n) != n)
			return lost(c, err);
		return DCV_OK;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return DCV_OK;
	*fd_open = false;
	ssh_channel_send_eof(ch);
	return DCV_OK;
}

static long exec_timeout(const struct dcv_ssh *c, const struct dcv_ssh_exec *req)
{
	return req->timeout_ms > 0 ? req->timeout_ms : c->host->ssh.command_timeout_ms;
}

/* Open a channel and start the command; its stdin buffer is written and closed unless an fd
 * streams it. */
static int exec_start(struct dcv_ssh *c, const struct dcv_ssh_exec *req, ssh_channel *out,
		      struct dcv_err *err)
{
	ssh_session s = c->s;
	struct dcv_buf cmd = DCV_BUF_INIT;
	ssh_channel ch;

	set_timeout(s, exec_timeout(c, req));
	ch = ssh_channel_new(s);
	if (!ch)
		return lost(c, err);
	if (ssh_channel_open_session(ch) != SSH_OK) {
		ssh_channel_free(ch);
		return lost(c, err);
	}
	if (req->sudo) {
		/* -n: never prompt; a password prompt would hang the run */
		dcv_buf_adds(&cmd, "sudo -n -- sh -c ");
		dcv_shquote(&cmd, req->cmd);
	} else {
		dcv_buf_adds(&cmd, req->cmd);
	}
	if (c->pool->opts.trace)
		c->pool->opts.trace(c->pool->opts.trace_user, c->host, dcv_buf_str(&cmd), req->in, req->in ? req->in_len : 0);
	int rc = ssh_channel_request_exec(ch, dcv_buf_str(&cmd));
	dcv_buf_release(&cmd);
	for (size_t off = 0; rc == SSH_OK && req->in && off < req->in_len;) {
		size_t chunk = req->in_len - off > 32768 ? 32768 : req->in_len - off;
		int w = ssh_channel_write(ch, req->in + off, (uint32_t)chunk);
		if (w <= 0)
			rc = SSH_ERROR;
		else
			off += (size_t)w;
	}
	if (rc != SSH_OK) {
		ssh_channel_free(ch);
		return lost(c, err);
	}
	if (req->in_fd < 0)
		ssh_channel_send_eof(ch);
	*out = ch;
	return DCV_OK;
}

/* Take what output is there without waiting; an end of stream sets its eof flag. */
static int exec_read(struct dcv_ssh *c, ssh_channel ch, const struct dcv_ssh_exec *req,
		     struct dcv_ssh_result *res, bool eof[2], struct dcv_err *err)
{
	char buf[16384];
	int n = 0;

	for (int is_err = 0; is_err < 2; is_err++) {
		while (!eof[is_err] && (n = ssh_channel_read_nonblocking(ch, buf, sizeof(buf), is_err)) > 0)
			deliver(req, res, is_err, buf, (size_t)n);
		if (eof[is_err])
			continue;
		if (n == SSH_ERROR)
			return lost(c, err);
		if (n == SSH_EOF || ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch))
			eof[is_err] = true;
	}
	return ssh_is_connected(c->s) ? DCV_OK : lost(c, err);
}

/* After both streams ended: the exit status, and sudo's password prompt as an error. */
static int exec_finish(struct dcv_ssh *c, ssh_channel ch, const struct dcv_ssh_exec *req,
		       struct dcv_ssh_result *res, long long deadline, struct dcv_err *err)
{
	set_timeout(c->s, deadline - dcv_now_ms() > 0 ? deadline - dcv_now_ms() : 1);
	res->status = ssh_channel_get_exit_status(ch);
	if (res->status < 0 || res->status > 255) {
		if (!ssh_is_connected(c->s))
			return lost(c, err);
		res->status = 255; /* killed by a signal: no exit status, as ssh(1) reports it */
	}
	if (req->sudo && res->status == 1 && req->capture &&
	    (strstr(dcv_buf_str(&res->err), "sudo: a password is required") ||
	     strstr(dcv_buf_str(&res->err), "sudo: a terminal is required")))
		return dcv_err_set(err, DCV_E_REMOTE,
				   "sudo on %s wants a password for '%s': allow it NOPASSWD in sudoers, or set sudo = no",
				   c->host->name, c->host->user);
	return DCV_OK;
}

static void exec_close(struct dcv_ssh *c, ssh_channel ch, struct dcv_ssh_result *res, long long start)
{
	res->ms = (long)(dcv_now_ms() - start);
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	set_timeout(c->s, c->host->ssh.command_timeout_ms);
}

/* Which command timed out, and the limit that fired: the command's start, on one line of
 * printable text (scripts are long; their first statements say what they are). */
static int timed_out(const struct dcv_ssh *c, const struct dcv_ssh_exec *req, struct dcv_err *err)
{
	char what[72];
	size_t n = 0;
	bool space = false;

	for (const char *p = req->cmd ? req->cmd : ""; *p && n + 4 < sizeof(what); p++) {
		bool ws = (unsigned char)*p <= ' ' || *p == 0x7f;
		if (ws) {
			space = n > 0;
			continue;
		}
		if (space)
			what[n++] = ' ';
		space = false;
		what[n++] = (unsigned char)*p < 0x80 ? *p : '?';
	}
	if (req->cmd && strlen(req->cmd) > n)
		n += (size_t)snprintf(what + n, sizeof(what) - n, "...");
	what[n] = '\0';
	return dcv_err_set(err, DCV_E_TIMEOUT, "command did not finish within %lds (%s): %s",
			   (exec_timeout(c, req) + 999) / 1000,
			   req->timeout_ms > 0 ? "its own limit" : "command-timeout", what);
}

static int run_blocking(struct dcv_ssh *c, const struct dcv_ssh_exec *req,
			struct dcv_ssh_result *res, struct dcv_err *err)
{
	long long start = dcv_now_ms(), deadline = start + exec_timeout(c, req);
	bool eof[2] = { false, false }, fd_open = req->in_fd >= 0;
	ssh_channel ch;
	int rc = exec_start(c, req, &ch, err);

	if (rc != DCV_OK)
		return rc;
	while (rc == DCV_OK && !(eof[0] && eof[1])) {
		struct pollfd pfd[2] = { { ssh_get_fd(c->s), POLLIN, 0 }, { fd_open ? req->in_fd : -1, POLLIN, 0 } };
		long long left = deadline - dcv_now_ms();

		if (left <= 0) {
			rc = timed_out(c, req, err);
			break;
		}
		if (poll(pfd, 2, (int)(left < 200 ? left : 200)) < 0 && errno != EINTR) {
			rc = dcv_err_set(err, DCV_E_IO, "poll: %s", strerror(errno));
			break;
		}
		if (fd_open && (pfd[1].revents & (POLLIN | POLLHUP)))
			rc = feed_stdin(c, ch, req, &fd_open, err);
		if (rc == DCV_OK)
			rc = exec_read(c, ch, req, res, eof, err);
	}
	if (rc == DCV_OK)
		rc = exec_finish(c, ch, req, res, deadline, err);
	exec_close(c, ch, res, start);
	return rc;
}

int dcv_ssh_run(struct dcv_ssh *c, const struct dcv_ssh_exec *req, struct dcv_ssh_result *res,
		struct dcv_err *err)
{
	if (c->relay) {
		struct req q = { .kind = REQ_EXEC, .exec = req, .res = res, .err = err };
		return relay_call(c->relay, &q);
	}
	return run_blocking(c, req, res, err);
}

static int ping_blocking(struct dcv_ssh *c, long *ms, struct dcv_err *err)
{
	long long start = dcv_now_ms();
	ssh_channel ch = ssh_channel_new(c->s);

	if (!ch)
		return lost(c, err);
	if (ssh_channel_open_session(ch) != SSH_OK) {
		ssh_channel_free(ch);
		return lost(c, err);
	}
	*ms = (long)(dcv_now_ms() - start);
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return DCV_OK;
}

int dcv_ssh_ping(struct dcv_ssh *c, long *ms, struct dcv_err *err)
{
	if (c->relay) {
		struct req q = { .kind = REQ_PING, .err = err };
		int rc = relay_call(c->relay, &q);
		if (rc == DCV_OK)
			*ms = q.ping_ms;
		return rc;
	}
	return ping_blocking(c, ms, err);
}

int dcv_ssh_share(struct dcv_ssh *c, struct dcv_err *err)
{
	return ensure_relay(c, err) ? DCV_OK : err->code;
}

int dcv_ssh_tunnel(struct dcv_ssh *c, const char *host, int port, int *fd, struct dcv_err *err)
{
	struct relay *r = ensure_relay(c, err);
	struct req q = { .kind = REQ_OPEN, .host = host, .port = port, .err = err };
	int rc;

	if (!r)
		return err->code;
	rc = relay_call(r, &q);
	if (rc == DCV_OK)
		*fd = q.fd;
	return rc;
}

/* ------------------------------------------------------------------ hold */

struct dcv_ssh_hold {
	ssh_channel ch;
};

int dcv_ssh_hold(struct dcv_ssh *c, const char *cmd, bool sudo, struct dcv_buf *first,
		 int *status, struct dcv_ssh_hold **hold, struct dcv_err *err)
{
	struct dcv_buf full = DCV_BUF_INIT;
	long long deadline = dcv_now_ms() + c->host->ssh.command_timeout_ms;
	ssh_channel ch;
	char buf[4096];

	*hold = NULL;
	if (c->relay)
		return dcv_err_set(err, DCV_E_USAGE, "cannot hold a command on a jump host's connection");
	ch = ssh_channel_new(c->s);
	if (!ch || ssh_channel_open_session(ch) != SSH_OK) {
		ssh_channel_free(ch);
		return lost(c, err);
	}
	if (sudo) {
		dcv_buf_adds(&full, "sudo -n -- sh -c ");
		dcv_shquote(&full, cmd);
	} else {
		dcv_buf_adds(&full, cmd);
	}
	int rc = ssh_channel_request_exec(ch, full.data);
	dcv_buf_release(&full);
	if (rc != SSH_OK) {
		ssh_channel_free(ch);
		return lost(c, err);
	}
	for (;;) {
		int n = ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, 200);
		if (n > 0) {
			dcv_buf_add(first, buf, (size_t)n);
			if (memchr(buf, '\n', (size_t)n))
				break;
		} else if (n == SSH_ERROR) {
			ssh_channel_free(ch);
			return lost(c, err);
		} else if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch)) {
			/* finished without holding: read the rest and the status */
			while ((n = ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, 200)) > 0)
				dcv_buf_add(first, buf, (size_t)n);
			*status = ssh_channel_get_exit_status(ch);
			ssh_channel_close(ch);
			ssh_channel_free(ch);
			return DCV_OK;
		}
		if (dcv_now_ms() > deadline) {
			ssh_channel_close(ch);
			ssh_channel_free(ch);
			return dcv_err_set(err, DCV_E_TIMEOUT, "no answer within the command timeout");
		}
	}
	*status = 0;
	*hold = xcalloc(1, sizeof(**hold));
	(*hold)->ch = ch;
	return DCV_OK;
}

void dcv_ssh_unhold(struct dcv_ssh_hold *hold)
{
	if (!hold)
		return;
	ssh_channel_send_eof(hold->ch);
	ssh_channel_close(hold->ch);
	ssh_channel_free(hold->ch);
	free(hold);
}

/* ------------------------------------------------------------------ parallel */

struct par {
	int n, next;
	pthread_mutex_t lock;
	void (*fn)(void *, int);
	void *user;
};

static void *par_main(void *arg)
{
	struct par *p = arg;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		int i = p->next < p->n ? p->next++ : -1;
		pthread_mutex_unlock(&p->lock);
		if (i < 0)
			return NULL;
		p->fn(p->user, i);
	}
}

void dcv_parallel(int n, int workers, void (*fn)(void *user, int i), void *user)
{
	struct par p = { n, 0, PTHREAD_MUTEX_INITIALIZER, fn, user };
	pthread_t *t;
	int started = 0;

	if (workers > n)
		workers = n;
	if (workers <= 1) {
		for (int i = 0; i < n; i++)
			fn(user, i);
		return;
	}
	t = xcalloc((size_t)workers, sizeof(*t));
	for (int i = 0; i < workers; i++)
		if (pthread_create(&t[i], NULL, par_main, &p) == 0)
			started++;
	if (!started)
		par_main(&p);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
}
