"""Shared helpers for the lab's DCV simulators.

Every simulator runs inside one lab host (its own network, mount and UTS
namespaces), always under /usr/bin/python3.  Paths below are the host's real
paths: /etc, /usr and /var/lib are per-host overlays, /run, /tmp, /home and
/var/log per-host directories (tests/lab/lab, "host-init").
"""

import ctypes
import datetime
import logging
import os
import re
import signal
import socket
import ssl
import sys
import time

# Simulator bookkeeping that the real products do not have lives here, never
# in /etc: the per-host package list, unit states, test switches.
SIM_STATE = "/var/lib/labsim"
UNIT_STATE = "/run/labsim/units"


def set_title(name):
    """Show `name` in ps and ss -p like the real daemon (design §9).

    setproctitle rewrites argv (ps) and the kernel comm (ss -p, ps -o comm),
    which the kernel truncates to 15 characters: dcv-connection-gateway
    appears as `dcv-connection-`, as the real binary would.
    """
    try:
        import setproctitle
        setproctitle.setproctitle(name)
    except ImportError:
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def unquote(value):
    """A dcv.conf/properties value without its quotes (dcv.md §1.0)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def read_dcv_conf(path="/etc/dcv/dcv.conf"):
    """Parse dcv.conf: {section: {key: raw value}} (dcv.md §1.0).

    Lines starting with # or ; are comments.  What dcvserver does with an
    unknown key is UNCONFIRMED (dcv.md §1.0): the simulator ignores it, so a
    lint in dcvctl, not the lab, has to catch e.g. `enable-broker`.
    """
    conf = {}
    section = None
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return conf
    for line in lines:
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        m = re.match(r"^\[([^\]]+)\]$", s)
        if m:
            section = m.group(1).strip()
            conf.setdefault(section, {})
            continue
        if "=" in s and section is not None:
            k, v = s.split("=", 1)
            conf[section][k.strip()] = v.strip()
    return conf


def conf_str(conf, section, key, default):
    v = conf.get(section, {}).get(key)
    return default if v is None else unquote(v)


def conf_int(conf, section, key, default):
    v = conf.get(section, {}).get(key)
    if v is None:
        return default
    return int(unquote(v))


def conf_bool(conf, section, key, default):
    v = conf.get(section, {}).get(key)
    if v is None:
        return default
    return unquote(v).lower() in ("true", "1", "yes")


def read_properties(path):
    """Java-style properties (session-manager-broker.properties, dcv.md §5.1)."""
    props = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                s = line.strip()
                if not s or s[0] in "#!":
                    continue
                m = re.match(r"^([^=:\s]+)\s*[=:]?\s*(.*)$", s)
                if m:
                    props[m.group(1)] = m.group(2).strip()
    except FileNotFoundError:
        pass
    return props


def read_toml(path):
    import tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


def setup_logging(path, name, fmt=None):
    """Log to `path` (created with its directory) and return the logger."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(
        fmt or "%(asctime)s [%(process)d] %(levelname)s %(name)s - %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    return logging.getLogger(name)


def write_pidfile(path):
    """Written only once the daemon holds its ports: systemctl waits for it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, path)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid):
    if not pid:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def listen_socket(host, port):
    """A listening TCP socket; host '' means every IPv4 address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host or "0.0.0.0", port))
    s.listen(128)
    return s


def parse_endpoint(ep, default_port):
    """`ip[:port]` as in web-listen-endpoints (dcv.md §1.1, §3.1)."""
    ep = ep.strip()
    if ep.startswith("["):
        host, _, rest = ep[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
        return host, port
    if ep.count(":") == 1:
        host, port = ep.split(":")
        return host, int(port)
    return ep, default_port


def server_tls_context(cert, key, cafile=None, require_client=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=cafile)
    return ctx


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def install_term_handler(cleanup):
    """Run cleanup() and exit on SIGTERM/SIGINT (systemctl stop)."""
    def handler(signum, frame):
        try:
            cleanup()
        finally:
            os._exit(0)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def die(msg, code=1):
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.exit(code)


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
