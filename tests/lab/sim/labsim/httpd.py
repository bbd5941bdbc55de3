"""A threaded HTTPS server for the Session Manager broker and the Connection
Gateway simulators (dcvserver uses websockify instead)."""

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class TLSServer(ThreadingHTTPServer):
    """HTTP over TLS; the TLS context is fetched per connection so a reload
    (SIGHUP) can swap certificates without dropping the listener."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, context_fn, logger):
        self.context_fn = context_fn
        self.logger = logger
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            tls = self.context_fn().wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.logger.info("%s: TLS handshake failed: %s", client_address[0], e)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.logger.info("%s: connection error", client_address[0])


class TCPHealthServer:
    """A TCP-level health check: accept and close (dcv.md §3.1 [health-check])."""

    def __init__(self, host, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)

    def serve_forever(self):
        while True:
            conn, _ = self.sock.accept()
            conn.close()


def serve_in_thread(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        self.server.logger.info("%s - %s", self.client_address[0], fmt % args)

    def reply(self, code, body=b"", ctype="text/plain; charset=utf-8", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""
