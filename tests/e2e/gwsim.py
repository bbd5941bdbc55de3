#!/usr/bin/python3
"""Loopback test of the lab's Connection Gateway and Session Manager broker simulators (issue 9).

    gwsim.py SCENARIO      (route, mtls, ca, ip-refused, dns-mapping, wrong-fields, gen-script)

Runs, in this process and on 127.0.0.1 only (random ports, nothing outside a temporary folder):
a DCV server stand-in (HTTPS page + RFC 6455 echo), the broker simulator's Session Resolver
handler (tests/lab/sim/labsim/dcv_session_manager_broker.py) and the gateway simulator's routing
handler (dcv_connection_gateway.py) built from a TOML file as the gateway reads it. Paths the
simulators fix under /etc, /var/lib and /run are module attributes, pointed into the temporary
folder here. Prints one `ok ...` line per property; any failure raises (exit status 1).
"""

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab", "sim"))

from labsim import common, httpd  # noqa: E402
from labsim import dcv_connection_gateway as gateway  # noqa: E402
from labsim import dcv_session_manager_broker as broker  # noqa: E402
from labsim import gen_gateway_certificates as gen  # noqa: E402

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok %s" % what)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


class Records(logging.Handler):
    """Every log line of the simulators, to assert on."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def has(self, text):
        return any(text in line for line in self.lines)


class Lab:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gwsim-")
        self.records = Records()
        self.log = logging.getLogger("gwsim")
        self.log.addHandler(self.records)
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        self.servers = []
        broker.MAPPINGS = self.path("dns-mappings.json")
        broker.TRUSTSTORE_PEM = self.path("truststore.pem")
        self.ca, self.ca_key = self.make_ca("ca")
        self.broker_cert, self.broker_key = self.make_cert("broker", self.ca, self.ca_key)

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_ca(self, name):
        cert, key = self.path(name + ".pem"), self.path(name + ".key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "2", "-subj", "/CN=%s" % name, "-keyout", key, "-out", cert)
        return cert, key

    def make_cert(self, name, ca, ca_key):
        """A server certificate for localhost, as the broker makes its own (§5.1)."""
        cert, key, csr = self.path(name + ".pem"), self.path(name + ".key"), self.path(name + ".csr")
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-subj", "/CN=localhost", "-keyout", key, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                "-days", "2", "-extfile", ext, "-out", cert)
        return cert, key

    def serve(self, handler, ctx):
        s = httpd.TLSServer(("127.0.0.1", 0), handler, lambda: ctx, self.log)
        httpd.serve_in_thread(s)
        self.servers.append(s)
        return s.server_address[1]

    def agent(self):
        """The DCV server stand-in: its own page, and a WebSocket that echoes one message."""
        class Agent(httpd.QuietHandler):
            server_version = "dcv-agent-stand-in"

            def do_GET(self):
                if self.headers.get("Upgrade", "").lower() != "websocket":
                    return self.reply(200, "agent page %s\n" % self.path)
                key = self.headers.get("Sec-WebSocket-Key", "")
                accept = base64.b64encode(hashlib.sha1(
                    (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
                self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                                  % accept).encode())
                payload = read_frame(self.rfile.read)
                self.wfile.write(frame(b"echo " + payload, mask=False))
                self.close_connection = True

        cert, key = self.make_cert("agent", *self.make_ca("agent-ca"))
        self.agent_port = self.serve(Agent, common.server_tls_context(cert, key))
        return self.agent_port

    def broker(self, mapping=True, client_ca=None):
        """The broker's resolver on a random port, knowing dcv1's session as its agent reports it."""
        state = broker.State({})
        state.report({"id": "dcv1", "ip": "127.0.0.1", "webPort": self.agent_port, "webUrlPath": "/",
                       "sessions": [{"id": "dcv1", "owner": "u", "type": "console"}]})
        state.report({"id": "dcv2", "ip": "127.0.0.1", "webPort": self.agent_port, "webUrlPath": "/dcv",
                      "sessions": [{"id": "desk2", "owner": "u", "type": "virtual"}]})
        with open(broker.MAPPINGS, "w") as f:
            json.dump([{"ServerIdType": "Ip", "ServerId": "127.0.0.1",
                        "DnsNames": {"InternalDnsName": "localhost"}}] if mapping else [], f)
        ctx = common.server_tls_context(self.broker_cert, self.broker_key, client_ca, bool(client_ca))
        self.broker_port = self.serve(broker.resolver_handler(state, self.log), ctx)
        return self.broker_port

    def gateway(self, resolver_port, extra_resolver="", ca=None, url_host="localhost"):
        """The gateway's routing handler, built from its TOML file."""
        conf = self.path("dcv-connection-gateway.conf")
        with open(conf, "w") as f:
            f.write('[gateway]\nweb-listen-endpoints = ["127.0.0.1:8443"]\ntcp-idle-timeout = 5\n'
                    '[resolver]\nurl = "https://%s:%d"\nca-file = "%s"\n%s'
                    '[dcv]\ntls-strict = false\n'
                    % (url_host, resolver_port, ca or self.ca, extra_resolver))
        handler = gateway.make_handler(common.read_toml(conf), self.log)
        cert, key = self.make_cert("gateway", self.ca, self.ca_key)
        return self.serve(handler, common.server_tls_context(cert, key))

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


def frame(payload, mask=True):
    head = bytes([0x81])
    n = len(payload)
    head += bytes([(0x80 if mask else 0) | n]) if n < 126 else bytes([(0x80 if mask else 0) | 126]) + \
        n.to_bytes(2, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(read):
    b0, b1 = read(2)
    n = b1 & 0x7f
    if n == 126:
        n = int.from_bytes(read(2), "big")
    key = read(4) if b1 & 0x80 else None
    data = read(n)
    return bytes(b ^ key[i % 4] for i, b in enumerate(data)) if key else data


def client(port, cert=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                           server_hostname="localhost")


def request(port, method, path, headers=(), cert=None):
    """(status, headers dict, body text, socket) of one request."""
    s = client(port, cert)
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: localhost:%d" % port] + list(headers)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    f = s.makefile("rb")
    status = int(f.readline().split()[1])
    hdrs = {}
    for line in iter(f.readline, b"\r\n"):
        k, _, v = line.decode("latin-1").partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if status == 101:
        return status, hdrs, "", f, s
    body = f.read(int(hdrs.get("content-length", 0))) if "content-length" in hdrs else f.read()
    s.close()
    return status, hdrs, body.decode("utf-8", "replace"), None, None


def websocket(port, path):
    return request(port, "GET", path, ["Upgrade: websocket", "Connection: Upgrade",
                                       "Sec-WebSocket-Key: " + WS_KEY, "Sec-WebSocket-Version: 13",
                                       "Origin: https://localhost"])


def routes(lab, gw_port, what):
    status, _, body, _, _ = request(gw_port, "GET", "/?sessionId=dcv1&authToken=t")
    check(status == 200 and "agent page /?sessionId=dcv1&authToken=t" in body,
          "%s: HTTP for session dcv1 reaches the agent the resolver names" % what)
    status, hdrs, _, f, s = websocket(gw_port, "/auth?sessionId=dcv1")
    check(status == 101, "%s: WebSocket upgrade for session dcv1 answers 101 through the gateway" % what)
    check(hdrs.get("sec-websocket-accept") == WS_ACCEPT, "%s: Sec-WebSocket-Accept is the agent's" % what)
    s.sendall(frame(b"hello"))
    check(read_frame(f.read) == b"echo hello", "%s: WebSocket messages flow both ways" % what)
    s.close()


def scenario_route(lab):
    lab.agent()
    gw_port = lab.gateway(lab.broker())
    routes(lab, gw_port, "route")
    status, _, body, _, _ = request(gw_port, "GET", "/?sessionId=desk2")
    check(status == 200 and "agent page /dcv/?sessionId=desk2" in body,
          "route: a server's web-url-path (WebUrlPath) prefixes the path the client asked")
    check(lab.records.has("session dcv1 resolved to localhost:%d/" % lab.agent_port),
          "route: the gateway logs where the resolver sent the session")
    check(lab.records.has("Resolved session dcv1 to localhost:%d" % lab.agent_port),
          "route: the broker resolved it from the agent's report and its DNS mapping")
    status, _, body, _, _ = request(gw_port, "GET", "/?sessionId=nosuch")
    check(status == 404 and "Session Not Found" in body, "route: a 404 from the resolver gives the error page")
    status, _, _, _, _ = websocket(gw_port, "/auth")
    check(status == 404, "route: a WebSocket without a session id gets 404")
    status, _, body, _, _ = request(lab.broker_port, "POST", "/resolveSession?sessionId=dcv1&transport=HTTP",
                                    ["Content-Length: 0", "accept: application/json"])
    answer = json.loads(body)
    check(status == 200 and sorted(answer) == ["DcvServerEndpoint", "Port", "SessionId", "TransportProtocol",
                                                "WebUrlPath"], "route: the broker answers the five fields of §4")
    status, _, body, _, _ = request(lab.broker_port, "POST", "/resolveSession?sessionId=dcv1&transport=QUIC",
                                    ["Content-Length: 0"])
    check(status == 404 and body == broker.NOT_FOUND, "route: the broker's 404 body is the observed text")
    status, _, _, _, _ = request(lab.broker_port, "POST", "/resolveSession?transport=HTTP", ["Content-Length: 0"])
    check(status == 400, "route: the broker answers 400 without a sessionId")


def scenario_mtls(lab):
    creds = lab.path("resolver-creds")
    password = gen.generate(creds)
    cert, key = os.path.join(creds, "dcv_gateway_cert.pem"), os.path.join(creds, "dcv_gateway_key.pem")
    store = os.path.join(creds, "dcv_gateway_truststore.p12")
    check(os.stat(key).st_mode & 0o777 == 0o600, "mtls: the gateway's key is mode 600")
    lab.agent()
    port = lab.broker(client_ca=broker.trust_store_cafile(store, password))
    try:
        request(port, "POST", "/resolveSession?sessionId=dcv1&transport=HTTP", ["Content-Length: 0"])
        refused = False
    except (ssl.SSLError, OSError, IndexError, ValueError):
        refused = True
    check(refused, "mtls: the resolver refuses a client without the certificate")
    status, _, _, _, _ = request(port, "POST", "/resolveSession?sessionId=dcv1&transport=HTTP",
                                 ["Content-Length: 0"], cert=(cert, key))
    check(status == 200, "mtls: the resolver accepts the gateway's certificate")
    gw_port = lab.gateway(port, 'cert-file = "%s"\ncert-key-file = "%s"\n' % (cert, key))
    routes(lab, gw_port, "mtls")
    bare = lab.gateway(port)
    status, _, _, _, _ = request(bare, "GET", "/?sessionId=dcv1")
    check(status == 502, "mtls: a gateway without [resolver] cert-file cannot resolve (502)")


def scenario_ca(lab):
    lab.agent()
    other, _ = lab.make_ca("other-ca")
    gw_port = lab.gateway(lab.broker(), ca=other)
    status, _, _, _, _ = request(gw_port, "GET", "/?sessionId=dcv1")
    check(status == 502, "ca: a resolver that does not verify against [resolver] ca-file is not used")
    check(lab.records.has("cannot reach the resolver"), "ca: the gateway logs why")


def scenario_ip_refused(lab):
    try:
        lab.gateway(8447, url_host="127.0.0.1")
        msg = ""
    except ValueError as e:
        msg = str(e)
    check("domain name" in msg, "ip-refused: [resolver] url with an IP is refused at start (§3.1)")


def scenario_dns_mapping(lab):
    lab.agent()
    gw_port = lab.gateway(lab.broker(mapping=False))
    status, _, body, _, _ = request(gw_port, "GET", "/?sessionId=dcv1")
    check(status == 404 and "Session Not Found" in body,
          "dns-mapping: without the agent's DNS mapping the broker answers 404 (§4, §7 item 9)")
    check(lab.records.has("has no DNS mapping"), "dns-mapping: the broker logs the missing mapping")


def scenario_wrong_fields(lab):
    """A resolver answering Host/HttpPort, as field notes report did not work (§4)."""
    lab.agent()

    class Wrong(httpd.QuietHandler):
        def do_POST(self):
            self.reply(200, json.dumps({"SessionId": "dcv1", "TransportProtocol": "HTTP",
                                        "Host": "localhost", "HttpPort": lab.agent_port, "WebUrlPath": "/"}),
                       "application/json")

    port = lab.serve(Wrong, common.server_tls_context(lab.broker_cert, lab.broker_key))
    gw_port = lab.gateway(port)
    status, _, _, _, _ = request(gw_port, "GET", "/?sessionId=dcv1")
    check(status == 502, "wrong-fields: Host/HttpPort instead of DcvServerEndpoint/Port does not route")


def scenario_gen_script(lab):
    out = io.StringIO()
    gen.OUT = lab.path("creds")
    real = os.getuid
    os.getuid = lambda: 0  # the script refuses to run as anyone but root
    try:
        with contextlib.redirect_stdout(out):
            rc = gen.main()
    finally:
        os.getuid = real
    lines = out.getvalue().splitlines()
    check(rc == 0 and lines[0] == "Certificates generated in folder: %s" % gen.OUT,
          "gen-script: prints the folder it wrote (§5.1)")
    password = lines[1].split(": ", 1)[1]
    check(lines[1].startswith("TrustStore password: ") and len(password) >= 16,
          "gen-script: prints the trust store password (§5.1)")
    for name in ("dcv_gateway_key.pem", "dcv_gateway_cert.pem", "dcv_gateway_truststore.p12"):
        check(os.path.isfile(os.path.join(gen.OUT, name)), "gen-script: wrote %s" % name)
    subprocess.run(["openssl", "pkcs12", "-in", os.path.join(gen.OUT, "dcv_gateway_truststore.p12"),
                    "-nokeys", "-passin", "pass:" + password, "-out", lab.path("ts.pem")], check=True,
                   capture_output=True)
    with open(lab.path("ts.pem")) as a, open(os.path.join(gen.OUT, "dcv_gateway_cert.pem")) as b:
        check(b.read().strip() in a.read(), "gen-script: the trust store opens with that password and "
                                            "holds the gateway's certificate")


SCENARIOS = {
    "route": scenario_route, "mtls": scenario_mtls, "ca": scenario_ca, "ip-refused": scenario_ip_refused,
    "dns-mapping": scenario_dns_mapping, "wrong-fields": scenario_wrong_fields,
    "gen-script": scenario_gen_script,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.stderr.write("usage: gwsim.py %s\n" % "|".join(SCENARIOS))
        return 2
    signal.alarm(60)  # bounded, whatever hangs
    lab = Lab()
    try:
        SCENARIOS[sys.argv[1]](lab)
    finally:
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
