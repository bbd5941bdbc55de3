"""dcvserver: the DCV server's web front end, on Debian's websockify.

Faithful to reference/dcv.md:
  * reads /etc/dcv/dcv.conf at start only ("server" reload context, §1.0):
    [connectivity] web-port, web-url-path, web-listen-endpoints,
    ws-keepalive-interval, web-use-hsts, web-x-frame-options;
    [security] allowed-ws-origin-regex, allowed-http-host-regex,
    auth-token-verifier; [session-management] create-session and
    [session-management/automatic-console-session] owner (§1.1);
  * TLS only, always /etc/dcv/dcv.pem + /etc/dcv/dcv.key (§1.1 [security]);
    generated self-signed when missing, as dcvserver does;
  * GET/HEAD on web-url-path -> 200 and the web client page; anything else
    -> 404 with Content-Length: 0 (§6); Host not matching
    allowed-http-host-regex -> 403 (§6);
  * WebSocket under web-url-path -> 101 with the RFC 6455 accept value when
    Origin matches allowed-ws-origin-regex (default ^https://.+$), 403 when
    it does not or is missing (§1.1 [security], §6); a ping every
    ws-keepalive-interval seconds (default 10, 0 disables; §1.1, §7 item 4);
  * logs to /var/log/dcv/server.log ([log] directory, §1.1, §2.8).
Sessions belong to the server: they are dropped when it starts and stops
(sessions.py).
"""

import html
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from . import common, sessions

CONF = "/etc/dcv/dcv.conf"
CERT = "/etc/dcv/dcv.pem"
KEY = "/etc/dcv/dcv.key"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>DCV</title>
</head>
<body>
<div id="dcv-web-client">Amazon DCV web client (dcvctl lab simulator, host %s)</div>
</body>
</html>
"""


class Settings:
    def __init__(self, conf):
        self.port = common.conf_int(conf, "connectivity", "web-port", 8443)
        self.url_path = common.conf_str(conf, "connectivity", "web-url-path", "/")
        self.keepalive = common.conf_int(conf, "connectivity", "ws-keepalive-interval", 10)
        self.hsts = common.conf_bool(conf, "connectivity", "web-use-hsts", True)
        self.xfo = common.conf_str(conf, "connectivity", "web-x-frame-options", "DENY")
        self.origin_re = common.conf_str(conf, "security", "allowed-ws-origin-regex", r"^https://.+$")
        self.host_re = common.conf_str(conf, "security", "allowed-http-host-regex", r"^.+$")
        self.verifier = common.conf_str(conf, "security", "auth-token-verifier", "")
        self.auto_console = common.conf_bool(conf, "session-management", "create-session", False)
        self.auto_owner = common.conf_str(conf, "session-management/automatic-console-session", "owner", "")
        self.log_dir = common.conf_str(conf, "log", "directory", "") or "/var/log/dcv"
        self.endpoints = self._endpoints(conf)

    def _endpoints(self, conf):
        raw = conf.get("connectivity", {}).get("web-listen-endpoints")
        if not raw:
            return [("0.0.0.0", self.port)]
        items = re.findall(r"'([^']*)'|\"([^\"]*)\"", raw)
        eps = []
        for a, b in items:
            host, port = common.parse_endpoint(a or b, self.port)
            if ":" in host:
                continue  # the lab hosts have no IPv6 addresses
            eps.append((host, port))
        return eps or [("0.0.0.0", self.port)]

    def check(self):
        if not self.url_path.startswith("/"):
            raise ValueError("web-url-path must start with '/': %r" % self.url_path)
        if not 1024 <= self.port <= 65535:
            raise ValueError("web-port out of range 1024-65535: %d" % self.port)
        re.compile(self.origin_re)
        re.compile(self.host_re)


def ensure_certificate(log):
    """dcvserver creates a self-signed dcv.pem/dcv.key when absent (dcv.md §1.1)."""
    if os.path.exists(CERT) and os.path.exists(KEY):
        return
    log.info("Generating self-signed certificate %s", CERT)
    os.makedirs(os.path.dirname(CERT), exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                    "-subj", "/CN=%s" % os.uname().nodename,
                    "-keyout", KEY, "-out", CERT],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(KEY, 0o600)
    os.chmod(CERT, 0o600)


def make_handler(settings, log):
    from websockify.websockifyserver import (CompatibleWebSocket,
                                             WebSockifyRequestHandler)
    from websockify.websocket import WebSocketWantWriteError

    base = settings.url_path.rstrip("/") or "/"
    origin_re = re.compile(settings.origin_re)
    host_re = re.compile(settings.host_re)
    page = (PAGE % html.escape(os.uname().nodename)).encode()

    class DcvWebSocket(CompatibleWebSocket):
        def select_subprotocol(self, protocols):
            # DCV's subprotocol names are UNCONFIRMED (dcv.md §6): take the first offered.
            protocols = [p.strip() for p in protocols if p.strip()]
            return protocols[0] if protocols else ""

    class Handler(WebSockifyRequestHandler):
        SocketClass = DcvWebSocket
        server_version = "dcvserver-lab-simulator"
        sys_version = ""

        def version_string(self):
            return self.server_version

        def log_message(self, fmt, *args):
            log.info("%s - %s", self.client_address[0], fmt % args)

        def log_request(self, code="-", size="-"):
            self.log_message('"%s" %s', self.requestline, code)

        def _path(self):
            return urlsplit(self.path).path or "/"

        def _is_page(self, path):
            if base == "/":
                return path in ("/", "/index.html")
            return path in (base, base + "/", base + "/index.html")

        def _under_base(self, path):
            return base == "/" or path == base or path.startswith(base + "/")

        def _host_ok(self):
            return bool(host_re.search(self.headers.get("Host", "")))

        def _send_empty(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send_page(self, with_body):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-cache")
            if settings.hsts:
                self.send_header("Strict-Transport-Security", "max-age=31536000")
            if settings.xfo:
                self.send_header("X-Frame-Options", settings.xfo)
            self.end_headers()
            if with_body:
                self.wfile.write(page)

        def do_GET(self):
            if not self._host_ok():
                return self._send_empty(403)
            if self._is_page(self._path()):
                return self._send_page(True)
            return self._send_empty(404)

        def do_HEAD(self):
            if not self._host_ok():
                return self._send_empty(403)
            if self._is_page(self._path()):
                return self._send_page(False)
            return self._send_empty(404)

        def do_POST(self):
            self._send_empty(404)

        def handle_upgrade(self):
            path = self._path()
            origin = self.headers.get("Origin", "")
            if not self._host_ok():
                log.warning("WebSocket refused: Host %r does not match allowed-http-host-regex",
                            self.headers.get("Host", ""))
                return self._send_empty(403)
            if not self._under_base(path):
                return self._send_empty(404)
            if not origin_re.search(origin):
                log.warning("WebSocket refused: Origin %r does not match allowed-ws-origin-regex %r",
                            origin, settings.origin_re)
                return self._send_empty(403)
            super().handle_upgrade()

        def new_websocket_client(self):
            interval = settings.keepalive
            last_ping = time.monotonic()
            while True:
                timeout = None
                if interval > 0:
                    timeout = max(0.0, interval - (time.monotonic() - last_ping))
                if self.request.pending():
                    ready = True
                else:
                    ready = bool(select.select([self.request], [], [], timeout)[0])
                if ready:
                    _, closed = self.recv_frames()
                    if closed:
                        log.info("%s: WebSocket closed (%s)", self.client_address[0],
                                 closed.get("code"))
                        return
                if interval > 0 and time.monotonic() - last_ping >= interval:
                    try:
                        self.send_ping(b"dcv-keepalive")
                    except WebSocketWantWriteError:
                        pass
                    last_ping = time.monotonic()

    return Handler


class DcvFormatter(logging.Formatter):
    """server.log lines as dcvserver writes them (reference §2.8): local time with
    microseconds, [ pid:tid ], the level in five columns (WARN, not WARNING), the component:
    2021-08-10 05:32:44,161016 [  3517:3517  ] WARN  frontend-handler - Invalid ..."""

    LEVELS = {"WARNING": "WARN", "CRITICAL": "FATAL"}

    def format(self, record):
        ts = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        line = "%s,%06d [ %5d:%-5d ] %-5s %s - %s" % (
            ts, int(record.created % 1 * 1000000), record.process, threading.get_native_id(),
            self.LEVELS.get(record.levelname, record.levelname), record.name,
            record.getMessage())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def main():
    common.set_title("dcvserver")
    conf = common.read_dcv_conf(CONF)
    settings = Settings(conf)
    log = common.setup_logging(os.path.join(settings.log_dir, "server.log"), "server")
    for h in logging.getLogger().handlers:
        h.setFormatter(DcvFormatter())
    try:
        settings.check()
        ensure_certificate(log)
    except Exception as e:  # noqa: BLE001 - any bad setting stops the server
        log.error("Cannot start: %s", e)
        sys.stderr.write("dcvserver: %s\n" % e)
        return 1

    from websockify.websockifyserver import WebSockifyServer

    host, port = settings.endpoints[0]
    lsock = common.listen_socket(host, port)
    log.info("Server starting (lab simulator), listening on %s:%d, web-url-path %s",
             host, port, settings.url_path)
    if settings.verifier:
        log.info("Using external authentication token verifier %s", settings.verifier)

    sessions.clear()

    class Server(WebSockifyServer):
        def started(self):
            # reference/dcv.md §1.1: create-session=true creates the console
            # session, id `console`, at every server start, owned by
            # [session-management/automatic-console-session] owner (empty: the
            # user that started dcvserver, root under systemd); it has no name.
            if settings.auto_console:
                owner = settings.auto_owner or "root"
                sessions.save(sessions.new_session("console", "console", owner, "", 0))
                log.info("Automatic console session 'console' created for %s", owner)
            common.write_pidfile(sessions.SERVER_PIDFILE)

    # The lab keeps its own listening socket so a busy port fails loudly here.
    server = Server(make_handler(settings, log), listen_fd=lsock.fileno(),
                    cert=CERT, key=KEY, ssl_only=True, file_only=True,
                    web="/", verbose=True)
    server.only_upgrade = False
    server.logger = logging.getLogger("server")
    try:
        server.start_server()
    finally:
        sessions.clear()
        try:
            os.unlink(sessions.SERVER_PIDFILE)
        except FileNotFoundError:
            pass
        log.info("Server stopped")
    return 0
