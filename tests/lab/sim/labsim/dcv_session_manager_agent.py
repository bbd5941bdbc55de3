"""dcv-session-manager-agent: the Session Manager agent (dcv.md §5.2).

Reads /etc/dcv-session-manager-agent/agent.conf (TOML, §5.2): [agent]
broker_host, broker_port (8445), tls_strict (true), ca_file,
broker_update_interval (30 s); [log] directory
(/var/log/dcv-session-manager-agent/).  Reports this DCV server -- address,
web-port and web-url-path from /etc/dcv/dcv.conf, and its sessions while
dcvserver runs -- to the broker every broker_update_interval seconds and as
soon as the sessions change.  The report format is the lab's own (the real
agent/broker protocol is not public); only the broker simulator reads it.
"""

import json
import os
import signal
import socket
import ssl
import sys
import time
import urllib.request

from . import common, sessions

CONF = "/etc/dcv-session-manager-agent/agent.conf"
PIDFILE = "/run/labsim/pids/dcv-session-manager-agent.pid"


def local_ip(host, port):
    """The address this host uses towards the broker (UDP connect sends nothing)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((host, port))
        return s.getsockname()[0]
    except OSError:
        return "0.0.0.0"
    finally:
        s.close()


def instance_id():
    try:
        with open(os.path.join(common.SIM_STATE, "instance-id")) as f:
            return f.read().strip()
    except OSError:
        return ""


def report(host, port):
    dcv = common.read_dcv_conf()
    return {
        "id": os.uname().nodename,
        "hostname": os.uname().nodename,
        "ip": local_ip(host, port),
        "instanceId": instance_id(),
        "webPort": common.conf_int(dcv, "connectivity", "web-port", 8443),
        "webUrlPath": common.conf_str(dcv, "connectivity", "web-url-path", "/"),
        "sessions": [{"id": s["id"], "owner": s["owner"], "type": s["type"],
                      "name": s.get("name", "")} for s in sessions.load_all()],
    }


def main():
    common.set_title("dcv-session-manager-agent")
    try:
        conf = common.read_toml(CONF)
    except (OSError, ValueError) as e:
        sys.stderr.write("dcv-session-manager-agent: cannot read %s: %s\n" % (CONF, e))
        return 1
    agent = conf.get("agent", {})
    logdir = conf.get("log", {}).get("directory", "/var/log/dcv-session-manager-agent/")
    log = common.setup_logging(os.path.join(logdir, "agent.log"), "agent")
    host = agent.get("broker_host")
    if not host:
        log.error("broker_host is required")
        sys.stderr.write("dcv-session-manager-agent: [agent] broker_host is required\n")
        return 1
    port = int(agent.get("broker_port", 8445))
    interval = int(agent.get("broker_update_interval", 30))
    ctx = ssl.create_default_context()
    if not agent.get("tls_strict", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif agent.get("ca_file"):
        ctx.load_verify_locations(cafile=agent["ca_file"])
    url = "https://%s:%d/agent/heartbeat" % (host, port)

    common.install_term_handler(lambda: os.path.exists(PIDFILE) and os.unlink(PIDFILE))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    common.write_pidfile(PIDFILE)
    log.info("Agent started (lab simulator), broker %s:%d", host, port)
    last, last_sent, failing = None, 0.0, False
    while True:
        body = report(host, port)
        now = time.monotonic()
        # While the broker is unreachable, try again every 5 s.
        due = now - last_sent >= (min(interval, 5) if failing else interval)
        if (body != last and not failing) or due:
            try:
                req = urllib.request.Request(url, json.dumps(body).encode(),
                                             {"Content-Type": "application/json"})
                urllib.request.urlopen(req, timeout=5, context=ctx).read()
                if failing:
                    log.info("Connected to the broker again")
                last, last_sent, failing = body, now, False
            except (OSError, ValueError) as e:
                if not failing:
                    log.warning("Cannot reach the broker at %s:%d: %s", host, port, e)
                failing = True
                last_sent = now
        time.sleep(1)
