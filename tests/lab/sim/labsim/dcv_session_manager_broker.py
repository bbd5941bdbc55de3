"""dcv-session-manager-broker: the Session Manager broker (dcv.md §5.1, §4),
and its CLI (`dcv-session-manager-broker register-server-dns-mappings`, §5.3).

Reads /etc/dcv-session-manager-broker/session-manager-broker.properties at
start (the file is checked at startup, §5.1):
  client-to-broker-connector-https-port / -bind-host  (the lab's file: 8448)
  agent-to-broker-connector-https-port / -bind-host   (8445: agents report
      here, and DCV servers' auth-token-verifier points here, §5.2)
  enable-gateway (stock file: false), gateway-to-broker-connector-https-port
      (8447) / -bind-host: the Session Resolver endpoint for the Connection
      Gateway, only when enable-gateway = true (§5.1, seed 004)
  enable-tls-client-auth-gateway, gateway-to-broker-connector-trust-store-file
      / -pass: mutual TLS on the resolver port (§5.1)
  enable-persistence: without it DNS mappings do not survive a restart (§5.3)
The broker's CA is /var/lib/dcvsmbroker/security/dcvsmbroker_ca.pem (key
beside it), created at first start (§5.1).

Session Resolver (§4): POST /resolveSession?sessionId=&transport=&clientIpAddress=
  200 {"SessionId","TransportProtocol","DcvServerEndpoint","Port","WebUrlPath"}
  404 "The requested combination of transport and sessionId does not exist"
      -- also when the session's server has no DNS mapping (§4, §7 item 9)
  400 for a missing sessionId or a transport other than HTTP/QUIC.
Sessions are learnt from Session Manager agents (dcv_session_manager_agent.py).
QUIC is never offered: lab agents have no QUIC listener.
"""

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

from . import common, httpd

PROPS = "/etc/dcv-session-manager-broker/session-manager-broker.properties"
SECURITY = "/var/lib/dcvsmbroker/security"
CA_CERT = SECURITY + "/dcvsmbroker_ca.pem"
CA_KEY = SECURITY + "/dcvsmbroker_ca.key"
SRV_CERT = SECURITY + "/dcvsmbroker.pem"
SRV_KEY = SECURITY + "/dcvsmbroker.key"
MAPPINGS = "/var/lib/dcvsmbroker/dns-mappings.json"
PIDFILE = "/run/labsim/pids/dcv-session-manager-broker.pid"
LOG = "/var/log/dcv-session-manager-broker/broker.log"
NOT_FOUND = "The requested combination of transport and sessionId does not exist"
TRUSTSTORE_PEM = "/run/labsim/broker-gateway-truststore.pem"


def local_ipv4():
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                         text=True).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines()]


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def hosts_names(ips, path="/etc/hosts"):
    """Names /etc/hosts gives this host's addresses: the gateway reaches the resolver by a
    DNS name ([resolver] url, dcv.md §3.1) and verifies it against the broker's CA, so the
    lab's name for the broker (each lab host's /etc/hosts) must be in the certificate."""
    names = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) > 1 and fields[0] in ips:
                    names += [n for n in fields[1:] if n not in names]
    except OSError:
        pass
    return names


def ensure_security(log):
    """The broker creates its own CA and server certificate on first start."""
    if os.path.exists(SRV_CERT) and os.path.exists(CA_CERT):
        return
    os.makedirs(SECURITY, mode=0o700, exist_ok=True)
    log.info("Generating broker CA and certificate in %s", SECURITY)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "3650", "-subj", "/CN=dcvsmbroker_ca",
            "-keyout", CA_KEY, "-out", CA_CERT)
    csr = SECURITY + "/dcvsmbroker.csr"
    openssl("req", *ec, "-subj", "/CN=%s" % os.uname().nodename,
            "-keyout", SRV_KEY, "-out", csr)
    ips = local_ipv4()
    names = ["localhost", os.uname().nodename] + \
        [n for n in hosts_names(ips) if n not in ("localhost", os.uname().nodename)]
    sans = ["DNS:%s" % n for n in names] + ["IP:%s" % ip for ip in ips]
    ext = SECURITY + "/san.ext"
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % ",".join(sans))
    openssl("x509", "-req", "-in", csr, "-CA", CA_CERT, "-CAkey", CA_KEY,
            "-CAcreateserial", "-days", "3650", "-extfile", ext, "-out", SRV_CERT)
    for p in (csr, ext):
        os.unlink(p)
    for p in (CA_KEY, SRV_KEY):
        os.chmod(p, 0o600)


def trust_store_cafile(path, password):
    """The trust store as a PEM file: PEM as is, PKCS#12 through openssl."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"-----BEGIN"):
        return path
    pem = TRUSTSTORE_PEM
    os.makedirs(os.path.dirname(pem), exist_ok=True)
    subprocess.run(["openssl", "pkcs12", "-in", path, "-nokeys", "-passin",
                    "pass:%s" % (password or ""), "-out", pem], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return pem


class State:
    def __init__(self, props):
        self.lock = threading.Lock()
        self.agents = {}
        self.expire = int(props.get("seconds-before-deleting-unreachable-dcv-server", "1800"))

    def report(self, info):
        with self.lock:
            info["last-seen"] = time.time()
            self.agents[info["id"]] = info

    def servers(self):
        now = time.time()
        with self.lock:
            return [a for a in self.agents.values() if now - a["last-seen"] < self.expire]


def load_mappings():
    try:
        with open(MAPPINGS) as f:
            return json.load(f)
    except (OSError, ValueError):
        return []


def dns_name(agent):
    ids = {"Ip": agent.get("ip"), "Id": agent.get("id"),
           "Host.Aws.Ec2InstanceId": agent.get("instanceId")}
    for m in load_mappings():
        if ids.get(m.get("ServerIdType")) == m.get("ServerId"):
            return (m.get("DnsNames") or {}).get("InternalDnsName")
    return None


def agent_handler(state, log):
    class Handler(httpd.QuietHandler):
        server_version = "dcv-session-manager-broker-lab-simulator"

        def do_POST(self):
            path = urlsplit(self.path).path
            body = self.body()
            if path == "/agent/heartbeat":
                try:
                    info = json.loads(body)
                    state.report(info)
                except (ValueError, KeyError):
                    return self.reply(400, "bad report\n")
                return self.reply(200, "{}", "application/json")
            if path == "/agent/validate-authentication-token":
                # DCV external authentication protocol (dcv.md §5.2): the lab
                # broker issues no tokens, so every token is refused.
                return self.reply(200, '<auth result="no"><message>Invalid authentication '
                                  'token</message></auth>', "text/xml")
            self.reply(404)

        def do_GET(self):
            self.reply(404)

    return Handler


def resolver_handler(state, log):
    class Handler(httpd.QuietHandler):
        server_version = "dcv-session-manager-broker-lab-simulator"

        def do_POST(self):
            url = urlsplit(self.path)
            self.body()
            if url.path != "/resolveSession":
                return self.reply(404)
            q = parse_qs(url.query)
            sid = (q.get("sessionId") or [""])[0]
            transport = (q.get("transport") or [""])[0]
            if not sid:
                return self.reply(400, "Missing sessionId\n")
            if transport not in ("HTTP", "QUIC"):
                return self.reply(400, "Invalid transport %s\n" % transport)
            for agent in state.servers():
                if transport != "HTTP":
                    break
                if not any(s.get("id") == sid for s in agent.get("sessions", [])):
                    continue
                name = dns_name(agent)
                if not name:
                    log.info("Session %s is on %s, which has no DNS mapping", sid,
                             agent.get("ip"))
                    break
                answer = {"SessionId": sid, "TransportProtocol": "HTTP",
                          "DcvServerEndpoint": name, "Port": agent.get("webPort", 8443),
                          "WebUrlPath": agent.get("webUrlPath", "/")}
                log.info("Resolved session %s to %s:%s", sid, name, answer["Port"])
                return self.reply(200, json.dumps(answer), "application/json")
            self.reply(404, NOT_FOUND)

        def do_GET(self):
            self.reply(404)

    return Handler


def client_handler(log):
    class Handler(httpd.QuietHandler):
        server_version = "dcv-session-manager-broker-lab-simulator"

        def do_GET(self):
            # The Session Manager REST API needs OAuth tokens the lab does not issue.
            self.reply(401, "Unauthorized\n")

        def do_POST(self):
            self.body()
            self.reply(401, "Unauthorized\n")

    return Handler


def serve():
    common.set_title("dcv-session-manager-broker")
    log = common.setup_logging(LOG, "broker")
    props = common.read_properties(PROPS)
    if not props:
        log.error("Cannot read %s", PROPS)
        sys.stderr.write("dcv-session-manager-broker: cannot read %s\n" % PROPS)
        return 1

    def prop(key, default):
        return props.get(key, default)

    try:
        ensure_security(log)
        if prop("enable-persistence", "false").lower() != "true" and os.path.exists(MAPPINGS):
            os.unlink(MAPPINGS)  # without persistence mappings die with the broker (§5.3)
        state = State(props)
        plain = common.server_tls_context(SRV_CERT, SRV_KEY)
        servers = [
            httpd.TLSServer((prop("client-to-broker-connector-bind-host", "0.0.0.0"),
                             int(prop("client-to-broker-connector-https-port", "8443"))),
                            client_handler(log), lambda: plain, log),
            httpd.TLSServer((prop("agent-to-broker-connector-bind-host", "0.0.0.0"),
                             int(prop("agent-to-broker-connector-https-port", "8445"))),
                            agent_handler(state, log), lambda: plain, log),
        ]
        if prop("enable-gateway", "false").lower() == "true":
            port = int(prop("gateway-to-broker-connector-https-port", "8447"))
            ctx = plain
            if prop("enable-tls-client-auth-gateway", "false").lower() == "true":
                cafile = trust_store_cafile(
                    prop("gateway-to-broker-connector-trust-store-file", ""),
                    prop("gateway-to-broker-connector-trust-store-pass", ""))
                ctx = common.server_tls_context(SRV_CERT, SRV_KEY, cafile, True)
                log.info("TLS client authentication required on the gateway connector")
            servers.append(httpd.TLSServer(
                (prop("gateway-to-broker-connector-bind-host", "0.0.0.0"), port),
                resolver_handler(state, log), lambda: ctx, log))
            log.info("Gateway connector (Session Resolver) on port %d", port)
    except (OSError, ValueError, ssl.SSLError, subprocess.CalledProcessError) as e:
        log.error("Cannot start: %s", e)
        sys.stderr.write("dcv-session-manager-broker: %s\n" % e)
        return 1

    common.install_term_handler(lambda: os.path.exists(PIDFILE) and os.unlink(PIDFILE))
    for s in servers:
        httpd.serve_in_thread(s)
    common.write_pidfile(PIDFILE)
    log.info("Broker started (lab simulator)")
    while True:
        signal.pause()


def cli(args):
    """`dcv-session-manager-broker register-server-dns-mappings --file-path F`
    and `describe-server-dns-mappings` (dcv.md §5.3)."""
    cmd, rest = args[0], args[1:]
    if not common.pid_alive(common.read_pid(PIDFILE)):
        sys.stderr.write("Error: the broker is not running\n")  # lab wording
        return 1
    if cmd == "describe-server-dns-mappings":
        print(json.dumps(load_mappings(), indent=2))
        return 0
    path = None
    for i, a in enumerate(rest):
        if a == "--file-path" and i + 1 < len(rest):
            path = rest[i + 1]
        elif a.startswith("--file-path="):
            path = a.split("=", 1)[1]
    if not path:
        sys.stderr.write("Error: --file-path is required\n")
        return 1
    try:
        with open(path) as f:
            mappings = json.load(f)
        if not isinstance(mappings, list):
            raise ValueError("a JSON list is expected")
        for m in mappings:
            if m.get("ServerIdType") not in ("Ip", "Id", "Host.Aws.Ec2InstanceId") or \
                    not m.get("ServerId") or \
                    not (m.get("DnsNames") or {}).get("InternalDnsName"):
                raise ValueError("invalid mapping %s" % json.dumps(m))
    except (OSError, ValueError) as e:
        sys.stderr.write("Error: cannot load mappings from file %s: %s\n" % (path, e))
        return 1
    os.makedirs(os.path.dirname(MAPPINGS), exist_ok=True)
    with open(MAPPINGS, "w") as f:
        json.dump(mappings, f)
    print("Successfully loaded %d server id - dns name mappings from file %s"
          % (len(mappings), path))
    return 0


def main():
    args = sys.argv[1:]
    if args and args[0] in ("register-server-dns-mappings", "describe-server-dns-mappings"):
        return cli(args)
    return serve()
