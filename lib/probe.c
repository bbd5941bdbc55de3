#include "probe.h"

#include "err.h"
#include "tls.h"
#include "util.h"
#include "ws.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int easy_index = -1; /* SSL_CTX ex_data slot: the struct easy a handshake reports to */

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	easy_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

bool dcv_url_split(const char *url, char *host, size_t hl, int *port, char *path, size_t pl)
{
	const char *p, *slash;
	char hostport[300];

	if (strncmp(url, "https://", 8) != 0)
		return false;
	p = url + 8;
	slash = strchr(p, '/');
	snprintf(hostport, sizeof(hostport), "%.*s", (int)(slash ? (size_t)(slash - p) : strlen(p)), p);
	snprintf(path, pl, "%s", slash ? slash : "/");
	char *h;
	if (!dcv_parse_hostport(hostport, 443, &h, port))
		return false;
	snprintf(host, hl, "%s", h);
	free(h);
	return *host != '\0';
}

int dcv_probe_tcp(const char *host, int port, long timeout_ms, double *ms, char *remote, size_t rl,
		  struct dcv_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char portstr[16];
	long long t0 = dcv_now_ms();
	int rc = DCV_E_CONNECT, g;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((g = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return dcv_err_set(err, DCV_E_CONNECT, "cannot resolve %s: %s", host, gai_strerror(g));
	dcv_err_set(err, DCV_E_CONNECT, "no address for %s", host);
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd p = { fd, POLLOUT, 0 };
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		char addr[INET6_ADDRSTRLEN] = "?";

		if (fd < 0)
			continue;
		getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && poll(&p, 1, (int)timeout_ms) == 1 &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)) {
			*ms = (double)(dcv_now_ms() - t0);
			snprintf(remote, rl, "%s:%d", addr, port);
			close(fd);
			rc = DCV_OK;
			break;
		}
		if (errno == EINPROGRESS && p.revents == 0)
			dcv_err_set(err, DCV_E_TIMEOUT, "connect to %s:%d timed out after %ld ms", addr, port, timeout_ms);
		else
			dcv_err_set(err, DCV_E_CONNECT, "connect to %s:%d: %s", addr, port,
				    strerror(soerr ? soerr : errno));
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

/* ---- a local TCP end for a tunnel fd, so curl can connect to it like to any server ---- */

struct bridge {
	int listen_fd, tunnel_fd;
	int port;
	pthread_t thread;
	bool started;
};

static void *bridge_main(void *arg)
{
	struct bridge *b = arg;
	int c = accept(b->listen_fd, NULL, NULL);
	char buf[32768];

	if (c < 0)
		return NULL;
	for (;;) {
		struct pollfd p[2] = { { c, POLLIN, 0 }, { b->tunnel_fd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		int from = (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 0 : 1;
		if (!(p[from].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(p[from].fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (write(p[1 - from].fd, buf, (size_t)n) != n)
			break;
	}
	close(c);
	return NULL;
}

static int bridge_start(struct bridge *b, int tunnel_fd, struct dcv_err *err)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(b, 0, sizeof(*b));
	b->tunnel_fd = tunnel_fd;
	b->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(b->listen_fd, 1) < 0 || getsockname(b->listen_fd, (struct sockaddr *)&a, &al) < 0)
		return dcv_err_set(err, DCV_E_IO, "cannot open a local end for the tunnel: %s", strerror(errno));
	b->port = ntohs(a.sin_port);
	if (pthread_create(&b->thread, NULL, bridge_main, b) != 0)
		return dcv_err_set(err, DCV_E_INTERNAL, "cannot start the tunnel thread");
	b->started = true;
	return DCV_OK;
}

static void bridge_stop(struct bridge *b)
{
	if (b->started) {
		shutdown(b->listen_fd, SHUT_RDWR);
		shutdown(b->tunnel_fd, SHUT_RDWR);
		pthread_join(b->thread, NULL);
	}
	if (b->listen_fd > 0)
		close(b->listen_fd);
}

/* ---- curl set-up shared by the probes ---- */

struct easy {
	CURL *c;
	struct curl_slist *connect_to;
	struct bridge bridge;
	char errbuf[CURL_ERROR_SIZE];
	char host[256], path[1024];
	int port;
	long timeout_ms;
	/* http: the response head as it arrives */
	long head_status;
	char location[512]; /* of the final head, as sent (maybe relative) */
	size_t head_bytes;
	bool head_done, head_too_big;
	/* the TLS handshake, seen from OpenSSL (on_tls_info) */
	bool hello_sent, handshake_done;
	struct dcv_tls_result *tls; /* the TLS probe's result to fill, else NULL */
};

static CURLcode on_ssl_ctx(CURL *c, void *ctx, void *e);

/* Larger response heads are refused (the WebSocket probe uses the same bound) */
#define HEAD_MAX 65536

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static int easy_open(struct easy *e, const char *url, const struct dcv_probe_opts *o, struct dcv_err *err)
{
	char target[300];

	pthread_once(&curl_once, init_curl);
	memset(e, 0, sizeof(*e));
	e->bridge.listen_fd = -1;
	if (!dcv_url_split(url, e->host, sizeof(e->host), &e->port, e->path, sizeof(e->path)))
		return dcv_err_set(err, DCV_E_USAGE, "'%s' is not an https:// URL", url);
	e->c = curl_easy_init();
	if (!e->c)
		return dcv_err_set(err, DCV_E_INTERNAL, "curl_easy_init failed");
	target[0] = '\0';
	if (o->via_fd >= 0) {
		int rc = bridge_start(&e->bridge, o->via_fd, err);
		if (rc != DCV_OK)
			return rc;
		snprintf(target, sizeof(target), "127.0.0.1:%d", e->bridge.port);
	} else if (o->connect_to) {
		snprintf(target, sizeof(target), "%s", o->connect_to);
	}
	if (target[0]) {
		char *entry = xasprintf("%s:%d:%s", e->host, e->port, target);
		e->connect_to = curl_slist_append(NULL, entry);
		free(entry);
		curl_easy_setopt(e->c, CURLOPT_CONNECT_TO, e->connect_to);
	}
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000L;
	curl_easy_setopt(e->c, CURLOPT_URL, url);
	curl_easy_setopt(e->c, CURLOPT_ERRORBUFFER, e->errbuf);
	curl_easy_setopt(e->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->c, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 10000L);
	curl_easy_setopt(e->c, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 10000L);
	/* the seed's --noproxy '*': only [endpoint] proxy, never the environment */
	if (o->proxy && o->via_fd < 0) {
		curl_easy_setopt(e->c, CURLOPT_PROXY, o->proxy);
	} else {
		curl_easy_setopt(e->c, CURLOPT_PROXY, "");
		curl_easy_setopt(e->c, CURLOPT_NOPROXY, "*");
	}
	/* without a CA file, chain and name are judged by the TLS probe and reported (verify_peer) */
	curl_easy_setopt(e->c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e->c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(e->c, CURLOPT_USERAGENT, "dcvctl/0.1");
	if (curl_easy_setopt(e->c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK)
		return dcv_err_set(err, DCV_E_INTERNAL, "libcurl cannot show the TLS session (not the OpenSSL backend?)");
	curl_easy_setopt(e->c, CURLOPT_SSL_CTX_DATA, e);
	curl_easy_setopt(e->c, CURLOPT_WRITEFUNCTION, discard);
	return DCV_OK;
}

/* With a CA file the HTTP and WebSocket probes trust it alone, chain and name, as a client set
 * up with it would; the TLS probe never refuses a handshake: it reports the chain instead. */
static void verify_peer(struct easy *e, const struct dcv_probe_opts *o)
{
	if (!o->ca_file)
		return;
	curl_easy_setopt(e->c, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(e->c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(e->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e->c, CURLOPT_SSL_VERIFYHOST, 2L);
}

static void easy_close(struct easy *e)
{
	if (e->c)
		curl_easy_cleanup(e->c);
	curl_slist_free_all(e->connect_to);
	bridge_stop(&e->bridge);
}

static double info_ms(CURL *c, CURLINFO what)
{
	curl_off_t us = 0;
	curl_easy_getinfo(c, what, &us);
	return (double)us / 1000.0;
}

static int curl_fail(struct easy *e, CURLcode cc, struct dcv_err *err)
{
	const char *why = e->errbuf[0] ? e->errbuf : curl_easy_strerror(cc);

	/* libcurl says "out of memory" for a header line over its own 100 KiB limit */
	if (e->head_too_big || (cc == CURLE_OUT_OF_MEMORY && !e->head_done))
		return dcv_err_set(err, DCV_E_REMOTE, "response head larger than %d KiB", HEAD_MAX / 1024);
	/* the hello went out over TCP and no handshake came back: a listener without TLS */
	if (cc == CURLE_OPERATION_TIMEDOUT && e->hello_sent && !e->handshake_done)
		return dcv_err_set(err, DCV_E_TIMEOUT,
				   "TLS handshake timed out after %ld ms (the port accepts TCP but no TLS server answers)",
				   e->timeout_ms);
	return dcv_err_set(err, cc == CURLE_OPERATION_TIMEDOUT ? DCV_E_TIMEOUT : DCV_E_CONNECT, "%s", why);
}

/* The probe wants the response head only: stop at its end, whatever the body does (slow,
 * endless). 1xx heads are not the answer and are passed over. */
static size_t on_header(char *p, size_t size, size_t n, void *u)
{
	struct easy *e = u;
	size_t len = size * n;

	e->head_bytes += len;
	if (e->head_bytes > HEAD_MAX) {
		e->head_too_big = true;
		return 0;
	}
	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);
		e->head_status = sp ? strtol(sp + 1, NULL, 10) : 0;
		e->location[0] = '\0';
	} else if (len > 9 && strncasecmp(p, "Location:", 9) == 0) {
		const char *v = p + 9, *end = p + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		snprintf(e->location, sizeof(e->location), "%.*s", (int)(end - v), v);
	} else if ((len == 2 && p[0] == '\r' && p[1] == '\n') || (len == 1 && p[0] == '\n')) {
		if (e->head_status >= 200) {
			e->head_done = true;
			return 0; /* ends the transfer: CURLE_WRITE_ERROR with head_done set */
		}
	}
	return len;
}

/* Where a Location leads, absolute, as libcurl's CURLINFO_REDIRECT_URL would say: the
 * transfer ends at the head, before libcurl works it out itself. */
static void resolve(const char *base, const char *location, char *out, size_t n)
{
	CURLU *u = curl_url();
	char *abs = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK)
		snprintf(out, n, "%s", abs);
	else
		snprintf(out, n, "%s", location);
	curl_free(abs);
	curl_url_cleanup(u);
}

int dcv_probe_http(const char *url, const struct dcv_probe_opts *o, struct dcv_http_result *r,
		   struct dcv_err *err)
{
	struct easy e;
	CURLcode cc;
	int rc;
	long ver = 0;
	char *ip = NULL;
	long port = 0;

	memset(r, 0, sizeof(*r));
	if ((rc = easy_open(&e, url, o, err)) != DCV_OK) {
		easy_close(&e);
		return rc;
	}
	verify_peer(&e, o);
	curl_easy_setopt(e.c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e.c, CURLOPT_HEADERDATA, &e);
	cc = curl_easy_perform(e.c);
	if (cc == CURLE_WRITE_ERROR && e.head_done)
		cc = CURLE_OK;
	if (cc != CURLE_OK) {
		rc = curl_fail(&e, cc, err);
		easy_close(&e);
		return rc;
	}
	curl_easy_getinfo(e.c, CURLINFO_RESPONSE_CODE, &r->status);
	if (e.location[0])
		resolve(url, e.location, r->redirect, sizeof(r->redirect));
	curl_easy_getinfo(e.c, CURLINFO_HTTP_VERSION, &ver);
	snprintf(r->http_version, sizeof(r->http_version), "%s",
		 ver == CURL_HTTP_VERSION_2_0 ? "2" : ver == CURL_HTTP_VERSION_1_0 ? "1.0" : "1.1");
	curl_easy_getinfo(e.c, CURLINFO_PRIMARY_IP, &ip);
	curl_easy_getinfo(e.c, CURLINFO_PRIMARY_PORT, &port);
	if (o->via_fd >= 0)
		snprintf(r->remote, sizeof(r->remote), "tunnel");
	else if (ip)
		snprintf(r->remote, sizeof(r->remote), "%s:%ld", ip, port);
	r->dns_ms = info_ms(e.c, CURLINFO_NAMELOOKUP_TIME_T);
	r->connect_ms = info_ms(e.c, CURLINFO_CONNECT_TIME_T);
	r->tls_ms = info_ms(e.c, CURLINFO_APPCONNECT_TIME_T);
	r->first_byte_ms = info_ms(e.c, CURLINFO_STARTTRANSFER_TIME_T);
	r->total_ms = info_ms(e.c, CURLINFO_TOTAL_TIME_T);
	easy_close(&e);
	return DCV_OK;
}

/* The handshake is read where OpenSSL does it: with CONNECT_ONLY libcurl detaches the
 * connection from CURLINFO_TLS_SSL_PTR, and reattaching it with curl_easy_recv crashes libcurl
 * once the server chose h2. The first completed handshake wins (TLS 1.3 reports again for
 * post-handshake messages). */
static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct easy *e = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), easy_index);
	struct dcv_tls_result *r;
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	X509 *leaf;

	(void)ret;
	if (!e)
		return;
	if (where & SSL_CB_HANDSHAKE_START)
		e->hello_sent = true;
	if (!(where & SSL_CB_HANDSHAKE_DONE))
		return;
	e->handshake_done = true;
	r = e->tls;
	if (!r || r->cert)
		return;
	snprintf(r->protocol, sizeof(r->protocol), "%s", SSL_get_version(ssl));
	snprintf(r->cipher, sizeof(r->cipher), "%s", SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	snprintf(r->alpn, sizeof(r->alpn), "%.*s", (int)alen, alpn ? (const char *)alpn : "");
	leaf = SSL_get0_peer_certificate(ssl);
	if (leaf)
		r->cert = dcv_cert_from_openssl(leaf, SSL_get_peer_cert_chain(ssl));
}

static CURLcode on_ssl_ctx(CURL *c, void *ctx, void *e)
{
	(void)c;
	SSL_CTX_set_ex_data(ctx, easy_index, e);
	SSL_CTX_set_info_callback(ctx, on_tls_info);
	return CURLE_OK;
}

int dcv_probe_tls(const char *url, const struct dcv_probe_opts *o, struct dcv_tls_result *r,
		  struct dcv_err *err)
{
	struct easy e;
	CURLcode cc;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = easy_open(&e, url, o, err)) != DCV_OK) {
		easy_close(&e);
		return rc;
	}
	curl_easy_setopt(e.c, CURLOPT_CONNECT_ONLY, 1L);
	e.tls = r;
	cc = curl_easy_perform(e.c);
	if (cc != CURLE_OK) {
		rc = curl_fail(&e, cc, err);
		easy_close(&e);
		dcv_tls_result_release(r);
		return rc;
	}
	r->connect_ms = info_ms(e.c, CURLINFO_CONNECT_TIME_T);
	r->tls_ms = info_ms(e.c, CURLINFO_APPCONNECT_TIME_T);
	easy_close(&e);
	if (!r->cert)
		return dcv_err_set(err, DCV_E_REMOTE, "the server sent no certificate");
	return DCV_OK;
}

void dcv_tls_result_release(struct dcv_tls_result *r)
{
	dcv_cert_free(r->cert);
	r->cert = NULL;
}

/* ---- WebSocket ---- */

static int wait_sock(CURL *c, bool write, long ms)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	struct pollfd p;

	curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &s);
	if (s == CURL_SOCKET_BAD)
		return -1;
	p.fd = s;
	p.events = write ? POLLOUT : POLLIN;
	p.revents = 0;
	return poll(&p, 1, (int)(ms < 0 ? 0 : ms));
}

static int send_all(struct easy *e, const char *p, size_t n, long long deadline, struct dcv_err *err)
{
	while (n) {
		size_t sent = 0;
		CURLcode cc = curl_easy_send(e->c, p, n, &sent);
		if (cc == CURLE_AGAIN) {
			if (dcv_now_ms() > deadline)
				return dcv_err_set(err, DCV_E_TIMEOUT, "timed out sending");
			wait_sock(e->c, true, 100);
			continue;
		}
		if (cc != CURLE_OK)
			return dcv_err_set(err, DCV_E_LOST, "send: %s", curl_easy_strerror(cc));
		p += sent;
		n -= sent;
	}
	return DCV_OK;
}

/* Read what is available into buf, waiting up to `ms`. Returns bytes read, 0 on timeout,
 * -1 when the peer closed, -2 on error. */
static long recv_some(struct easy *e, struct dcv_buf *buf, long ms)
{
	char tmp[16384];
	size_t got = 0;
	CURLcode cc = curl_easy_recv(e->c, tmp, sizeof(tmp), &got);

	if (cc == CURLE_AGAIN) {
		if (wait_sock(e->c, false, ms) <= 0)
			return 0;
		cc = curl_easy_recv(e->c, tmp, sizeof(tmp), &got);
		if (cc == CURLE_AGAIN)
			return 0;
	}
	if (cc != CURLE_OK)
		return -2;
	if (got == 0)
		return -1;
	dcv_buf_add(buf, tmp, got);
	return (long)got;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* An upgraded connection: what was read and not yet parsed, and the message state. */
struct ws_conn {
	struct easy *e;
	struct dcv_buf in;
	size_t used; /* bytes of `in` the last frame took: its payload stays valid until the next read */
	struct dcv_ws_reader rd;
};

static int send_frame(struct ws_conn *c, int opcode, const void *p, size_t n, long long deadline,
		      struct dcv_err *err)
{
	struct dcv_buf f = DCV_BUF_INIT;
	uint8_t mask[4];
	int rc;

	RAND_bytes(mask, sizeof(mask));
	dcv_ws_frame(&f, opcode, p, n, mask);
	rc = send_all(c->e, f.data, f.len, deadline, err);
	dcv_buf_release(&f);
	return rc;
}

/* Wait up to `ms` for the server's next frame. 1: a frame in *m (valid until the next call);
 * 0: none in time; -1: the connection ended or broke the protocol, `why` says which. */
static int next_frame(struct ws_conn *c, struct dcv_ws_msg *m, long ms, char *why, size_t wl)
{
	long long until = dcv_now_ms() + (ms < 0 ? 0 : ms);

	if (c->used) {
		memmove(c->in.data, c->in.data + c->used, c->in.len - c->used);
		c->in.len -= c->used;
		c->used = 0;
	}
	for (;;) {
		const char *perr = NULL;
		long used = dcv_ws_parse_server(&c->rd, (uint8_t *)c->in.data, c->in.len, m, &perr);
		if (used > 0) {
			c->used = (size_t)used;
			return 1;
		}
		if (used < 0) {
			snprintf(why, wl, "protocol error: %s", perr);
			return -1;
		}
		long left = (long)(until - dcv_now_ms());
		if (left < 0)
			return 0;
		long got = recv_some(c->e, &c->in, left);
		if (got < 0) {
			snprintf(why, wl, "the connection %s", got == -1 ? "was closed" : "failed");
			return -1;
		}
	}
}

static int close_code(const struct dcv_ws_msg *m)
{
	return m->len >= 2 ? m->payload[0] << 8 | m->payload[1] : 1005;
}

/* The server closes the TCP connection after the close handshake (§5.5.1): a client should
 * let it, so the server's side does not linger; half a second at most. */
static void wait_eof(struct ws_conn *c, long ms)
{
	long long until = dcv_now_ms() + (ms < 500 ? ms : 500);
	long left;

	while ((left = (long)(until - dcv_now_ms())) > 0 && recv_some(c->e, &c->in, left) >= 0)
		c->in.len = 0;
}

/* The server began the close: echo its code (§5.5.1) and let it close the connection. */
static void echo_close(struct ws_conn *c, const struct dcv_ws_msg *m, long long start, struct dcv_ws_result *r,
		       struct dcv_err *err)
{
	uint8_t code[2];
	size_t n = m->len >= 2 ? 2 : 0;

	r->close_code = close_code(m);
	memcpy(code, m->payload, n);
	snprintf(r->failure, sizeof(r->failure), "the server closed the WebSocket after %.1f s (code %d)",
		 (dcv_now_ms() - start) / 1000.0, r->close_code);
	if (send_frame(c, DCV_WS_CLOSE, code, n, dcv_now_ms() + 1000, err) != DCV_OK) {
		size_t l = strlen(r->failure);
		snprintf(r->failure + l, sizeof(r->failure) - l, "; cannot echo its close: %s", err->msg);
		return;
	}
	wait_eof(c, 500);
}

/* We close (1000): the server must answer with its own close within `ms` (§7.1.2), after data
 * and control frames it had in flight, which are dropped. */
static void ws_close(struct ws_conn *c, long ms, struct dcv_ws_result *r, struct dcv_err *err)
{
	const uint8_t bye[2] = { 0x03, 0xe8 }; /* 1000: normal closure */
	long long until = dcv_now_ms() + ms;
	struct dcv_ws_msg m;
	char why[200];
	int got;

	if (send_frame(c, DCV_WS_CLOSE, bye, sizeof(bye), until, err) != DCV_OK) {
		snprintf(r->failure, sizeof(r->failure), "cannot send our close: %s", err->msg);
		return;
	}
	while ((got = next_frame(c, &m, (long)(until - dcv_now_ms()), why, sizeof(why))) == 1)
		if (m.opcode == DCV_WS_CLOSE) {
			r->close_code = close_code(&m);
			wait_eof(c, (long)(until - dcv_now_ms()));
			return;
		}
	if (got == 0)
		snprintf(r->failure, sizeof(r->failure), "the server did not answer our close within %.1f s",
			 ms / 1000.0);
	else
		snprintf(r->failure, sizeof(r->failure), "%s before the server answered our close", why);
}

static void rtt_stats(double *rtts, int n, struct dcv_ws_result *r)
{
	if (!n)
		return;
	qsort(rtts, (size_t)n, sizeof(*rtts), cmp_double);
	r->rtt_p50 = rtts[(n - 1) / 2];
	r->rtt_p95 = rtts[(int)((n - 1) * 0.95 + 0.5)];
	r->rtt_max = rtts[n - 1];
}

/* Keep the WebSocket open with pings, answering the server's; true when the hold lasted. */
static bool ws_hold(struct ws_conn *c, long hold_ms, long interval_ms, struct dcv_ws_result *r,
		    struct dcv_err *err)
{
	long long start = dcv_now_ms(), end = start + hold_ms, next_ping = start, last_heard = start, now;
	double *rtts = NULL;
	int n_rtts = 0;

	while ((now = dcv_now_ms()) < end && !r->failure[0]) {
		struct dcv_ws_msg m;
		char why[200];
		if (now >= next_ping) {
			uint8_t ts[8];
			for (int i = 0; i < 8; i++)
				ts[i] = (uint8_t)((unsigned long long)now >> (56 - 8 * i));
			if (send_frame(c, DCV_WS_PING, ts, 8, now + 5000, err) != DCV_OK) {
				snprintf(r->failure, sizeof(r->failure), "cannot send a ping after %.1f s: %s",
					 (now - start) / 1000.0, err->msg);
				break;
			}
			r->pings_sent++;
			next_ping = now + interval_ms;
		}
		if (now - last_heard > 2 * interval_ms) {
			snprintf(r->failure, sizeof(r->failure), "no frame for %.1f s (two intervals) after %.1f s",
				 (now - last_heard) / 1000.0, (now - start) / 1000.0);
			break;
		}
		int got = next_frame(c, &m, (long)((next_ping < end ? next_ping : end) - now), why, sizeof(why));
		if (got < 0) {
			snprintf(r->failure, sizeof(r->failure), "%s after %.1f s", why, (dcv_now_ms() - start) / 1000.0);
			break;
		}
		if (got == 0)
			continue;
		last_heard = dcv_now_ms();
		if (m.opcode == DCV_WS_PONG) {
			r->pongs++;
			if (m.len == 8) {
				unsigned long long sent = 0;
				for (int i = 0; i < 8; i++)
					sent = sent << 8 | m.payload[i];
				rtts = xrealloc(rtts, sizeof(*rtts) * (size_t)(n_rtts + 1));
				rtts[n_rtts++] = (double)(last_heard - (long long)sent);
			}
		} else if (m.opcode == DCV_WS_PING) {
			r->server_pings++;
			if (send_frame(c, DCV_WS_PONG, m.payload, m.len, last_heard + 5000, err) != DCV_OK)
				snprintf(r->failure, sizeof(r->failure), "cannot answer a ping after %.1f s: %s",
					 (last_heard - start) / 1000.0, err->msg);
		} else if (m.opcode == DCV_WS_CLOSE) {
			echo_close(c, &m, start, r, err);
		}
	}
	r->held_ms = (long)(dcv_now_ms() - start);
	rtt_stats(rtts, n_rtts, r);
	free(rtts);
	return !r->failure[0];
}

/* Send the upgrade request and read the response head into r->headers; what follows it stays
 * in `in`. */
static int ws_upgrade(struct easy *e, const struct dcv_probe_opts *o, const char *key, long long t0,
		      long long deadline, struct dcv_buf *in, struct dcv_ws_result *r, struct dcv_err *err)
{
	struct dcv_buf req = DCV_BUF_INIT;
	char *end = NULL;
	int rc;

	dcv_buf_addf(&req, "GET %s HTTP/1.1\r\nHost: %s", e->path, e->host);
	if (e->port != 443)
		dcv_buf_addf(&req, ":%d", e->port);
	dcv_buf_adds(&req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
	dcv_buf_addf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key);
	if (o->origin)
		dcv_buf_addf(&req, "Origin: %s\r\n", o->origin);
	else if (e->port == 443)
		dcv_buf_addf(&req, "Origin: https://%s\r\n", e->host);
	else
		dcv_buf_addf(&req, "Origin: https://%s:%d\r\n", e->host, e->port);
	dcv_buf_adds(&req, "User-Agent: dcvctl/0.1\r\n\r\n");
	rc = send_all(e, req.data, req.len, deadline, err);
	dcv_buf_release(&req);
	if (rc != DCV_OK)
		return rc;
	while (!(end = in->data ? strstr(in->data, "\r\n\r\n") : NULL)) {
		long left = (long)(deadline - dcv_now_ms());
		if (left <= 0)
			return dcv_err_set(err, DCV_E_TIMEOUT, "no answer to the upgrade within %ld ms",
					   (long)(deadline - t0));
		long got = recv_some(e, in, left);
		if (got < 0)
			return dcv_err_set(err, DCV_E_LOST, "the connection closed before an answer to the upgrade%s%s",
					   in->len ? ": " : "", dcv_buf_str(in));
		if (in->len > 65536)
			return dcv_err_set(err, DCV_E_REMOTE, "response head larger than 64 KiB");
	}
	size_t head = (size_t)(end - in->data) + 4;
	dcv_buf_add(&r->headers, in->data, head - 2);
	r->upgrade_ms = (double)(dcv_now_ms() - t0);
	memmove(in->data, in->data + head, in->len - head);
	in->len -= head;
	in->data[in->len] = '\0';
	return DCV_OK;
}

int dcv_probe_ws(const char *url, const struct dcv_probe_opts *o, long hold_ms, long interval_ms,
		 struct dcv_ws_result *r, struct dcv_err *err)
{
	struct easy e;
	struct ws_conn c = { &e, DCV_BUF_INIT, 0, DCV_WS_READER_INIT };
	struct dcv_ws_answer ans;
	char key[25];
	long long t0 = dcv_now_ms(), deadline = t0 + (o->timeout_ms > 0 ? o->timeout_ms : 10000);
	CURLcode cc;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = easy_open(&e, url, o, err)) != DCV_OK)
		goto out;
	curl_easy_setopt(e.c, CURLOPT_CONNECT_ONLY, 1L);
	/* the seed's listener offers h2; an Upgrade only exists in HTTP/1.1 */
	curl_easy_setopt(e.c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	verify_peer(&e, o);
	cc = curl_easy_perform(e.c);
	if (cc != CURLE_OK) {
		rc = curl_fail(&e, cc, err);
		goto out;
	}
	dcv_ws_new_key(key);
	if ((rc = ws_upgrade(&e, o, key, t0, deadline, &c.in, r, err)) != DCV_OK)
		goto out;
	dcv_ws_check_answer(r->headers.data, key, &ans);
	if (!ans.status) {
		rc = dcv_err_set(err, DCV_E_REMOTE, "not an HTTP response: %.60s", r->headers.data);
		goto out;
	}
	r->status = ans.status;
	r->accept_ok = ans.accepted;
	snprintf(r->rejected, sizeof(r->rejected), "%s", ans.why);
	/* a broken handshake fails the connection: no frame is sent on it (§4.1) */
	if (!r->accept_ok)
		goto out;
	if (hold_ms <= 0 || ws_hold(&c, hold_ms, interval_ms > 0 ? interval_ms : 5000, r, err)) {
		long left = (long)(deadline - dcv_now_ms());
		ws_close(&c, left < 200 ? 200 : left > 2000 ? 2000 : left, r, err);
	}
out:
	easy_close(&e);
	dcv_buf_release(&c.in);
	return rc;
}

void dcv_ws_result_release(struct dcv_ws_result *r)
{
	dcv_buf_release(&r->headers);
}

/* ------------------------------------------------------------------ verdicts */

static void verdict(struct dcv_verdict *v, enum dcv_check_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void verdict(struct dcv_verdict *v, enum dcv_check_status st, const char *fmt, ...)
{
	va_list ap;

	v->status = st;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
}

static void why(struct dcv_verdict *v, enum dcv_verdict_why w, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void why(struct dcv_verdict *v, enum dcv_verdict_why w, const char *key, const char *fmt, ...)
{
	va_list ap;

	v->why = w;
	snprintf(v->key, sizeof(v->key), "%s", key ? key : "");
	va_start(ap, fmt);
	vsnprintf(v->value, sizeof(v->value), fmt, ap);
	va_end(ap);
}

void dcv_probe_tls_verdict(const struct dcv_tls_result *r, const struct dcv_tls_expect *e,
			   struct dcv_verdict *v)
{
	struct dcv_cert_info ci;
	struct dcv_err ve = DCV_ERR_INIT;
	struct dcv_buf missing = DCV_BUF_INIT, sans = DCV_BUF_INIT;

	dcv_cert_info(r->cert, &ci);
	long days = dcv_cert_days_left(&ci, e->now);
	if (e->host && !dcv_cert_covers(r->cert, e->host))
		dcv_buf_adds(&missing, e->host);
	for (int i = 0; i < e->n_names; i++)
		if (!dcv_cert_covers(r->cert, e->names[i]))
			dcv_buf_addf(&missing, "%s%s", missing.len ? ", " : "", e->names[i]);
	for (int i = 0; i < ci.n_sans; i++)
		dcv_buf_addf(&sans, "%s%s", i ? ", " : "", ci.sans[i]);
	bool verified = dcv_cert_verify(r->cert, e->ca_file, &ve) == DCV_OK;
	long starts = (long)(difftime(ci.not_before, e->now) / 86400);
	v->why = DCV_WHY_NONE;
	v->key[0] = v->value[0] = '\0';
	if (missing.len) {
		verdict(v, DCV_CHECK_FAIL, "certificate does not cover %s; its SANs: %s", missing.data,
			sans.len ? sans.data : "none");
		why(v, DCV_WHY_CERT_NAME, missing.data, "%s", sans.len ? sans.data : "none");
	} else if (days < 0) {
		verdict(v, DCV_CHECK_FAIL, "certificate expired %ld days ago", -days);
		why(v, DCV_WHY_CERT_EXPIRED, NULL, "%ld", -days);
	} else if (dcv_cert_not_yet_valid(&ci, e->now)) {
		verdict(v, DCV_CHECK_FAIL, "certificate not valid yet: it starts in %ld days", starts);
		why(v, DCV_WHY_CERT_NOT_YET, NULL, "%ld", starts);
	} else if (!verified && e->ca_file) {
		verdict(v, DCV_CHECK_FAIL, "chain not verified against %s: %s", e->ca_file, ve.msg);
		why(v, DCV_WHY_CERT_UNTRUSTED, e->ca_file, "%s", ve.msg);
	} else if (!verified && days < e->cert_warn_days) {
		/* a self-signed pair (the seed's) expires too: both warnings, not the first alone */
		verdict(v, DCV_CHECK_WARN,
			"%s, name covered, chain NOT verified (%s; set [endpoint] ca-file); certificate expires in %ld days",
			r->protocol, ve.msg, days);
		why(v, DCV_WHY_CERT_EXPIRING, NULL, "%ld", days);
	} else if (!verified) {
		verdict(v, DCV_CHECK_WARN, "%s, name covered, chain NOT verified (%s; set [endpoint] ca-file)",
			r->protocol, ve.msg);
		why(v, DCV_WHY_CERT_UNTRUSTED, NULL, "%s", ve.msg);
	} else if (days < e->cert_warn_days) {
		verdict(v, DCV_CHECK_WARN, "certificate expires in %ld days", days);
		why(v, DCV_WHY_CERT_EXPIRING, NULL, "%ld", days);
	} else {
		verdict(v, DCV_CHECK_PASS, "%s, %s covered, chain verified, %ld days left", r->protocol,
			e->host ? e->host : "name", days);
	}
	dcv_cert_info_release(&ci);
	dcv_buf_release(&missing);
	dcv_buf_release(&sans);
}

void dcv_probe_http_verdict(const struct dcv_http_result *r, const int *expect, int n_expect,
			    struct dcv_verdict *v)
{
	bool ok = n_expect == 0 && r->status >= 200 && r->status < 400;

	for (int i = 0; i < n_expect; i++)
		ok |= expect[i] == r->status;
	verdict(v, ok ? DCV_CHECK_PASS : DCV_CHECK_FAIL, "HTTP/%s %ld%s%s (first byte %.1f ms)", r->http_version,
		r->status, r->redirect[0] ? " -> " : "", r->redirect, r->first_byte_ms);
}

void dcv_probe_ws_verdict(const struct dcv_ws_result *r, long hold_ms, struct dcv_verdict *v)
{
	if (hold_ms > 0 && (r->status != 101 || !r->accept_ok))
		verdict(v, DCV_CHECK_FAIL, "no upgrade (%ld)%s%s", r->status, r->rejected[0] ? ": " : "", r->rejected);
	else if (hold_ms > 0)
		verdict(v, r->failure[0] ? DCV_CHECK_FAIL : DCV_CHECK_PASS,
			"%s%sheld %.1f s: %d pongs to %d pings, %d server pings, rtt p50 %.1f ms p95 %.1f ms max %.1f ms",
			r->failure, r->failure[0] ? "; " : "", r->held_ms / 1000.0, r->pongs, r->pings_sent,
			r->server_pings, r->rtt_p50, r->rtt_p95, r->rtt_max);
	else if (r->status == 101 && r->accept_ok && !r->failure[0])
		verdict(v, DCV_CHECK_PASS, "101 Switching Protocols, Sec-WebSocket-Accept correct");
	else if (r->status == 101 && r->accept_ok)
		verdict(v, DCV_CHECK_FAIL, "101 Switching Protocols, then %s", r->failure);
	else if (r->status == 101)
		verdict(v, DCV_CHECK_FAIL, "101 Switching Protocols but %s", r->rejected);
	else
		verdict(v, DCV_CHECK_FAIL, "%s",
			r->status == 400   ? "400: a proxy dropped the Upgrade headers?"
			: r->status == 403 ? "403: DCV refused the Origin (allowed-ws-origin-regex)?"
					   : "no upgrade");
}
