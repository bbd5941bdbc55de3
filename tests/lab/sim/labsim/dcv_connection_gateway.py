"""dcv-connection-gateway: the Amazon DCV Connection Gateway (dcv.md §3).

Reads /etc/dcv-connection-gateway/dcv-connection-gateway.conf (TOML, §3):
  [gateway] web-listen-endpoints (required, non-empty), web-port (8443),
            cert-file + cert-key-file (together; unset = generated self-signed)
  [health-check] bind-addr (unset = disabled), port (8888) -- TCP level
  [web-resources] local-resources-path: served over HTTPS
  [log] directory (/var/log/dcv-connection-gateway), file gateway.log with
        lines `[Timestamp] [Level] [Context]: [Message]` in UTC (§3)
`systemctl reload` (SIGHUP) re-reads the certificate without dropping the
listener (§3, cert-file "Restart: no").

What it does with a client: requests for web resources are served; every
WebSocket and every other path gets 404, as the field notes saw for
`wss://<gw>/auth` without an auth token (§4.1).  Routing a session through
the resolver to an agent is not simulated yet (issue 3 leaves it to the
Connection Gateway work).
"""

import logging
import os
import signal
import ssl
import subprocess
import sys
import threading
import time

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


def make_handler(conf, log):
    web = conf.get("web-resources", {})
    root = web.get("local-resources-path")

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

        def do_GET(self):
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
