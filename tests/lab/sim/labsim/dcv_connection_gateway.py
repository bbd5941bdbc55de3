"""dcv-connection-gateway: the Amazon DCV Connection Gateway (dcv.md §3).

Reads /etc/dcv-connection-gateway/dcv-connection-gateway.conf (TOML, §3.1):
  [gateway] web-listen-endpoints (required, non-empty), web-port (8443),
            cert-file + cert-key-file (together; unset = generated self-signed),
            tcp-idle-timeout (10 s: an idle proxied connection is closed)
  [resolver] url (required; "host must be a domain name, IP addresses are not
            supported"), ca-file, cert-file + cert-key-file (client certificate
            for TLS client authentication towards the broker, §5.1),
            tls-strict (true), http-establish-timeout (10 s)
  [dcv] tls-strict (true: DCV's self-signed certificates are refused), ca-file
  [health-check] bind-addr (unset = disabled), port (8888) -- TCP level
  [web-resources] local-resources-path: served over HTTPS
  [log] directory (/var/log/dcv-connection-gateway), file gateway.log with
        lines `[Timestamp] [Level] [Context]: [Message]` in UTC (§3)
`systemctl reload` (SIGHUP) re-reads the certificate without dropping the
listener (§3, cert-file "Restart: no").

Routing (§4): a request that names a session asks the resolver
`POST <url>/resolveSession?sessionId=ID&transport=HTTP&clientIpAddress=IP`
(header `accept: application/json`, no body), verifying the resolver against
[resolver] ca-file and presenting [resolver] cert-file when set.  A 200 answer
must carry exactly DcvServerEndpoint and Port (§4: Host/HttpPort do not work);
the request -- HTTP or a WebSocket upgrade -- is then proxied over TLS to that
DCV server (its path under WebUrlPath, an inference), and an upgraded connection relayed both ways until either side
closes or it stays idle for tcp-idle-timeout.  404 from the resolver gives the
gateway's error page (404); an unreachable or malformed resolver gives 502.
How the web client hands the gateway its session id is not documented beyond
§4.1 (`?authToken=...#<sessionId>`, and the fragment never reaches a server):
the simulator takes it from the `sessionId` query parameter.  A request with
no session id gets web resources, and a WebSocket without one gets 404, as the
field notes saw for `wss://<gw>/auth` without an auth token (§4.1).
"""

import ipaddress
import json
import logging
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

from . import common, httpd

CONF = "/etc/dcv-connection-gateway/dcv-connection-gateway.conf"
PIDFILE = "/run/labsim/pids/dcv-connection-gateway.pid"
SELF_CERT = "/run/labsim/dcv-connection-gateway-selfsigned.pem"
SELF_KEY = "/run/labsim/dcv-connection-gateway-selfsigned.key"


class GatewayFormatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ts += ".%03dZ" % record.msecs
        level = {"WARNING": "WARN"}.get(record.levelname, record.levelname)
        return "[%s] [%s] [%s]: %s" % (ts, level, record.name, record.getMessage())


def setup_log(conf):
    d = conf.get("log", {}).get("directory", "/var/log/dcv-connection-gateway")
    os.makedirs(d, exist_ok=True)
    h = logging.FileHandler(os.path.join(d, "gateway.log"))
    h.setFormatter(GatewayFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h]
    root.setLevel(logging.INFO)
    return logging.getLogger("dcv_connection_gateway")


class Certs:
    def __init__(self, conf, log):
        self.log = log
        self.lock = threading.Lock()
        self.ctx = None
        self.load(conf)

    def load(self, conf):
        gw = conf.get("gateway", {})
        cert, key = gw.get("cert-file"), gw.get("cert-key-file")
        if bool(cert) != bool(key):
            raise ValueError("cert-file and cert-key-file must be set together")
        if not cert:
            if not os.path.exists(SELF_CERT):
                os.makedirs(os.path.dirname(SELF_CERT), exist_ok=True)
                subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "365",
                                "-subj", "/CN=%s" % os.uname().nodename,
                                "-keyout", SELF_KEY, "-out", SELF_CERT],
                               check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            cert, key = SELF_CERT, SELF_KEY
            self.log.info("No certificate configured, using a self-signed one")
        ctx = common.server_tls_context(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        with self.lock:
            self.ctx = ctx
        self.log.info("Loaded certificate %s", cert)

    def get(self):
        with self.lock:
            return self.ctx


def is_ip(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


class Resolver:
    """The gateway's Session Resolver client (§3.1 [resolver], §4)."""

    def __init__(self, conf):
        r = conf.get("resolver", {})
        self.conf = r
        self.url = r.get("url")
        if not self.url:
            raise ValueError("[resolver] url is required")
        u = urlsplit(self.url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("[resolver] url %r is not an http(s) URL" % self.url)
        if is_ip(u.hostname):
            raise ValueError("[resolver] url: host must be a domain name, IP addresses are "
                             "not supported")
        cert, key = r.get("cert-file"), r.get("cert-key-file")
        if bool(cert) != bool(key):
            raise ValueError("[resolver] cert-file and cert-key-file must be set together")
        self.timeout = float(r.get("http-establish-timeout", 10))

    def context(self):
        """Built per request, so a CA or client certificate copied later is used."""
        ctx = ssl.create_default_context(cafile=self.conf.get("ca-file"))
        if not self.conf.get("tls-strict", True):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.conf.get("cert-file"):
            ctx.load_cert_chain(self.conf["cert-file"], self.conf["cert-key-file"])
        return ctx

    def resolve(self, sid, client_ip):
        """(status, parsed JSON or body text); raises OSError when unreachable."""
        query = urlencode({"sessionId": sid, "transport": "HTTP", "clientIpAddress": client_ip})
        req = urllib.request.Request(self.url.rstrip("/") + "/resolveSession?" + query, data=b"",
                                     method="POST", headers={"accept": "application/json"})
        handlers = [urllib.request.ProxyHandler({})]  # never an environment proxy
        if self.url.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=self.context()))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=self.timeout) as resp:
                body = resp.read()
                try:
                    return resp.status, json.loads(body)
                except ValueError:
                    return resp.status, body.decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")


def dcv_context(conf):
    """TLS towards the DCV servers (§3.1 [dcv])."""
    d = conf.get("dcv", {})
    ctx = ssl.create_default_context(cafile=d.get("ca-file"))
    if not d.get("tls-strict", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def relay(a, b, idle):
    """Copy bytes both ways until one side closes or nothing moves for `idle` s.
    One thread, so no TLS object is read and written from two threads at once."""
    last = time.monotonic()
    socks = [a, b]
    while True:
        # TLS sockets may hold decrypted bytes select() cannot see
        ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select(socks, [], [], 1.0)
        if not ready:
            if time.monotonic() - last > idle:
                return "idle"
            continue
        for s in ready:
            try:
                data = s.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                return "error"
            if not data:
                return "closed"
            (b if s is a else a).sendall(data)
            last = time.monotonic()


def error_page(code, title):
    return ("<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
            "<body><h1>%s</h1><p>DCV Connection Gateway</p></body></html>\n"
            % (code, title, title))


def make_handler(conf, log):
    web = conf.get("web-resources", {})
    root = web.get("local-resources-path")
    resolver = Resolver(conf)
    to_dcv = dcv_context(conf)
    idle = float(conf.get("gateway", {}).get("tcp-idle-timeout", 10))

    class Handler(httpd.QuietHandler):
        server_version = "dcv-connection-gateway-lab-simulator"

        def _static(self):
            path = self.path.split("?", 1)[0]
            if not root:
                return None
            rel = os.path.normpath(path.lstrip("/")) if path != "/" else "index.html"
            if rel.startswith(".."):
                return None
            full = os.path.join(root, rel)
            if os.path.isdir(full):
                full = os.path.join(full, "index.html")
            return full if os.path.isfile(full) else None

        def _session(self):
            return (parse_qs(urlsplit(self.path).query).get("sessionId") or [None])[0]

        def _error(self, code, title):
            if self.headers.get("Content-Length"):
                self.body()
            self.reply(code, error_page(code, title), "text/html; charset=utf-8")

        def _route(self, sid):
            client = self.client_address[0]
            try:
                status, answer = resolver.resolve(sid, client)
            except (OSError, ssl.SSLError, ValueError) as e:
                log.error("Session %s: cannot reach the resolver %s: %s", sid, resolver.url, e)
                return self._error(502, "Bad Gateway")
            if status == 404:
                log.info("%s: session %s not resolved (404 from the resolver)", client, sid)
                return self._error(404, "Session Not Found")
            try:
                if status != 200:
                    raise ValueError("status %d" % status)
                host, port = answer["DcvServerEndpoint"], int(answer["Port"])
                base = answer.get("WebUrlPath") or "/"
                if answer.get("TransportProtocol") != "HTTP":
                    raise ValueError("TransportProtocol %r" % answer.get("TransportProtocol"))
            except (KeyError, TypeError, ValueError) as e:
                log.error("Session %s: unusable resolver answer (%s): %.200r", sid, e, answer)
                return self._error(502, "Bad Gateway")
            log.info("%s: session %s resolved to %s:%d%s", client, sid, host, port, base)
            self._proxy(host, port, base)

        def _proxy(self, host, port, base):
            upgrade = self.headers.get("Upgrade", "").lower() == "websocket"
            try:
                up = to_dcv.wrap_socket(socket.create_connection((host, port), timeout=10),
                                        server_hostname=host)
            except (OSError, ssl.SSLError) as e:
                log.error("Cannot connect to the DCV server %s:%d: %s", host, port, e)
                return self._error(502, "Bad Gateway")
            # The client addresses the gateway's root; the server serves under its
            # web-url-path, which the resolver returns as WebUrlPath (§4; the mapping is an
            # inference, the docs do not spell it out).
            path = self.path
            base = base.rstrip("/")
            if base and path.split("?", 1)[0] != base and not path.startswith(base + "/"):
                path = base + path
            head = ["%s %s HTTP/1.1" % (self.command, path)]
            for k, v in self.headers.items():
                if not upgrade and k.lower() in ("connection", "keep-alive"):
                    continue
                head.append("%s: %s" % (k, v))
            if not upgrade:
                head.append("Connection: close")  # one request per upstream connection
            self.close_connection = True
            try:
                up.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    up.sendall(self.rfile.read(n))
                why = relay(self.connection, up, idle)
                log.info("%s %s to %s:%d ended: %s", "WebSocket" if upgrade else "Request",
                         self.path.split("?", 1)[0], host, port, why)
            except OSError as e:
                log.info("Proxying to %s:%d failed: %s", host, port, e)
            finally:
                up.close()

        def do_GET(self):
            sid = self._session()
            if sid:
                return self._route(sid)
            if self.headers.get("Upgrade", "").lower() == "websocket":
                log.info("%s: WebSocket %s: no auth token or session resolved, 404",
                         self.client_address[0], self.path)
                return self.reply(404)
            f = self._static()
            if f is None:
                return self.reply(404)
            with open(f, "rb") as fh:
                data = fh.read()
            ctype = "text/html; charset=utf-8" if f.endswith(".html") else \
                "application/octet-stream"
            self.reply(200, data, ctype, {"Strict-Transport-Security": "max-age=31536000",
                                          "X-Content-Type-Options": "nosniff",
                                          "X-Frame-Options": "SAMEORIGIN"})

        do_HEAD = do_GET

        def do_POST(self):
            sid = self._session()
            if sid:
                return self._route(sid)
            self.body()
            self.reply(404)

    return Handler


def main():
    common.set_title("dcv-connection-gateway")
    try:
        conf = common.read_toml(CONF)
    except (OSError, ValueError) as e:
        sys.stderr.write("dcv-connection-gateway: cannot read %s: %s\n" % (CONF, e))
        return 1
    log = setup_log(conf)
    gw = conf.get("gateway", {})
    endpoints = gw.get("web-listen-endpoints") or []
    if not endpoints:
        log.error("web-listen-endpoints is required and must not be empty")
        sys.stderr.write("dcv-connection-gateway: [gateway] web-listen-endpoints is required\n")
        return 1
    try:
        certs = Certs(conf, log)
        handler = make_handler(conf, log)
        servers = []
        for ep in endpoints:
            host, port = common.parse_endpoint(ep, int(gw.get("web-port", 8443)))
            if ":" in host:
                continue
            servers.append(httpd.TLSServer((host, port), handler, certs.get, log))
            log.info("Listening for web connections on %s:%d", host, port)
        hc = conf.get("health-check", {})
        if hc.get("bind-addr"):
            servers.append(httpd.TCPHealthServer(hc["bind-addr"], int(hc.get("port", 8888))))
            log.info("Health check on %s:%d", hc["bind-addr"], int(hc.get("port", 8888)))
    except (OSError, ValueError, ssl.SSLError) as e:
        log.error("Cannot start: %s", e)
        sys.stderr.write("dcv-connection-gateway: %s\n" % e)
        return 1

    def reload(signum, frame):
        try:
            certs.load(common.read_toml(CONF))
        except Exception as e:  # noqa: BLE001 - keep serving the old certificate
            log.error("Reload failed: %s", e)

    signal.signal(signal.SIGHUP, reload)
    common.install_term_handler(lambda: os.path.exists(PIDFILE) and os.unlink(PIDFILE))
    for s in servers:
        httpd.serve_in_thread(s)
    common.write_pidfile(PIDFILE)
    log.info("Gateway started (lab simulator)")
    while True:
        signal.pause()
