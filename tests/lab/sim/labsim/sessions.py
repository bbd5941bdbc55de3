"""DCV sessions as the lab keeps them.

Sessions belong to the running dcvserver (dcv.md §2.2, §2.8): they live in
/run/dcv/sessions, dcvserver empties that directory when it starts and when it
stops, and the `dcv` CLI sees no session while dcvserver is down.
"""

import json
import os

from . import common

SESSION_DIR = "/run/dcv/sessions"
SERVER_PIDFILE = "/run/labsim/pids/dcvserver.pid"


def server_running():
    pid = common.read_pid(SERVER_PIDFILE)
    if not common.pid_alive(pid):
        return False
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() == "dcvserver"
    except OSError:
        return False


def clear():
    os.makedirs(SESSION_DIR, exist_ok=True)
    for name in os.listdir(SESSION_DIR):
        try:
            os.unlink(os.path.join(SESSION_DIR, name))
        except FileNotFoundError:
            pass


def load_all():
    """Sessions of the running server, oldest first; none while it is down."""
    if not server_running():
        return []
    out = []
    try:
        names = os.listdir(SESSION_DIR)
    except FileNotFoundError:
        return []
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(SESSION_DIR, name), encoding="utf-8") as f:
                out.append(json.load(f))
        except (OSError, ValueError):
            continue
    out.sort(key=lambda s: (s.get("creation-time", ""), s.get("id", "")))
    return out


def _path(session_id):
    # Session IDs are file names here; '/' never reaches the file system.
    return os.path.join(SESSION_DIR, session_id.replace("/", "%2F") + ".json")


def find(session_id):
    for s in load_all():
        if s.get("id") == session_id:
            return s
    return None


def save(session):
    os.makedirs(SESSION_DIR, exist_ok=True)
    path = _path(session["id"])
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(session, f)
    os.rename(tmp, path)


def remove(session_id):
    try:
        os.unlink(_path(session_id))
        return True
    except FileNotFoundError:
        return False


def new_session(session_id, stype, owner, name, uid):
    """Field names of describe-session --json (dcv.md §2.5)."""
    created = common.now_rfc3339()
    display = ":0" if stype == "console" else ":%d" % (len(load_all()) + 1)
    return {
        "id": session_id,
        "owner": owner,
        # DCV 2024.0 reported "user" : "dcv" for a console session (dcv.md §2.5).
        "user": "dcv" if stype == "console" else owner,
        "name": name,
        "type": stype,
        "status": "created",
        "num-of-connections": 0,
        "creation-time": created,
        "last-disconnection-time": "",
        "licensing-mode": "demo",
        "licenses": [{
            "product": "dcv",
            "status": "licensed",
            "check-timestamp": created,
            "expiration-date": "2099-12-31T00:00:00Z",
        }],
        "storage-root": "",
        "x11-display": display,
        "x11-authority": "/run/user/%d/dcv/%s.xauth" % (uid, session_id),
        "display-layout": [{"width": 1920, "height": 1080, "x": 0, "y": 0}],
    }
