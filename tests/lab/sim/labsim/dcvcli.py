"""dcv: the DCV server's command-line tool (reference/dcv.md §2).

Implemented: create-session (§2.2), close-session (§2.3), list-sessions text
and -j/--json (§2.4), describe-session text and -j/--json (§2.5), version
(§2.7).  Other documented commands (§2.1) answer that the lab does not
simulate them.

Exit codes and error texts of `dcv` are UNCONFIRMED (dcv.md §2.7, §8): the
texts below marked "lab wording" are this simulator's, chosen to be plain;
callers must verify state with `list-sessions -j`, as dcv.md recommends.

The list-sessions text format is switchable so tests can cover every form
§2.4 lists: environment DCV_SIM_LIST_FORMAT, else the first line of
/var/lib/labsim/list-format, else `dcv2024`.  Values (comma-separated):
  dcv2024     Session: 'console' (owner:ubuntu type:console name:'Ubuntu Desktop')
              (quoted id; `name:` omitted when empty -- DCV 2024/2025 on Linux)
  documented  Session: console (owner:ubuntu type:console name:'Ubuntu Desktop')
              (the admin guide's form, older servers: unquoted id)
  windows     Session: 'console' (owner:ubuntu type:console name:Ubuntu Desktop)
              (unquoted name, as seen on Windows servers)
  crlf        modifier: end lines with CRLF
"""

import os
import pwd
import sys

from . import common, sessions

COMMANDS = ("create-session", "close-session", "describe-session", "list-sessions",
            "list-connections", "close-connection", "get-screenshot",
            "set-display-layout", "set-name", "set-permissions", "set-storage-root",
            "reload-licenses", "get-config", "list-endpoints", "set-config",
            "version", "help")

CREATE_OPTS = ("type", "name", "user", "owner", "permissions-file", "storage-root",
               "gl", "max-concurrent-clients", "init")


def glib_json(value, indent=0):
    """Pretty JSON the way DCV prints it: `"key" : value` (dcv.md §2.4)."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{ }"
        items = ['%s"%s" : %s' % (inner, k, glib_json(v, indent + 1)) for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [inner + glib_json(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    import json
    return json.dumps(value, ensure_ascii=False)


def calling_user():
    return pwd.getpwuid(os.getuid()).pw_name


def parse_options(args, allowed, flags=()):
    """GLib-style options: --key=value, --key value, and flag options."""
    opts, pos = {}, []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            pos.extend(args[i + 1:])
            break
        if a.startswith("--"):
            key, eq, val = a[2:].partition("=")
            if key in flags:
                opts[key] = True
            elif key in allowed:
                if not eq:
                    i += 1
                    if i >= len(args):
                        raise ValueError("Missing argument for --%s" % key)
                    val = args[i]
                opts[key] = val
            else:
                raise ValueError("Unknown option %s" % a)
        elif a == "-j" and "json" in flags:
            opts["json"] = True
        elif a.startswith("-") and a != "-":
            raise ValueError("Unknown option %s" % a)
        else:
            pos.append(a)
        i += 1
    return opts, pos


def list_format():
    fmt = os.environ.get("DCV_SIM_LIST_FORMAT")
    if not fmt:
        try:
            with open(os.path.join(common.SIM_STATE, "list-format")) as f:
                fmt = f.readline().strip()
        except OSError:
            fmt = ""
    parts = {p.strip() for p in (fmt or "dcv2024").split(",") if p.strip()}
    style = "dcv2024"
    for p in parts:
        if p in ("dcv2024", "documented", "windows"):
            style = p
    return style, "crlf" in parts


def session_line(s, style):
    sid, name = s["id"], s.get("name", "")
    if style == "documented":
        return "Session: %s (owner:%s type:%s name:'%s')" % (sid, s["owner"], s["type"], name)
    if style == "windows":
        tail = " name:%s" % name if name else ""
        return "Session: '%s' (owner:%s type:%s%s)" % (sid, s["owner"], s["type"], tail)
    tail = " name:'%s'" % name if name else ""
    return "Session: '%s' (owner:%s type:%s%s)" % (sid, s["owner"], s["type"], tail)


def cmd_list_sessions(args):
    opts, pos = parse_options(args, (), flags=("json",))
    if pos:
        raise ValueError("Unexpected argument %s" % pos[0])
    found = sessions.load_all()
    if opts.get("json"):
        print(glib_json(found))
        return 0
    style, crlf = list_format()
    end = "\r\n" if crlf else "\n"
    if not found:
        sys.stdout.write("There are no sessions available." + end)  # dcv.md §2.4
        return 0
    for s in found:
        sys.stdout.write(session_line(s, style) + end)
    return 0


def cmd_describe_session(args):
    opts, pos = parse_options(args, (), flags=("json",))
    if len(pos) != 1:
        raise ValueError("describe-session needs exactly one SESSION_ID")
    s = sessions.find(pos[0])
    if s is None:
        # lab wording (dcv.md §8)
        sys.stderr.write("Could not describe session '%s': session not found\n" % pos[0])
        return 1
    if opts.get("json"):
        print(glib_json(s))
        return 0
    layout = ",".join("%dx%d+%d+%d" % (d["width"], d["height"], d["x"], d["y"])
                      for d in s.get("display-layout", []))
    print("Session: %s" % s["id"])
    print("  owner: %s" % s["owner"])
    if s.get("name"):
        print("  name: %s" % s["name"])
    print("  x display: %s" % s["x11-display"])
    print("  x authority: %s" % s["x11-authority"])
    print("  display layout: %s" % layout)
    return 0


def cmd_create_session(args):
    opts, pos = parse_options(args, CREATE_OPTS)
    if len(pos) != 1:
        raise ValueError("create-session needs exactly one SESSION_ID (the last argument)")
    sid = pos[0]
    stype = opts.get("type", "virtual")  # Linux default is virtual (dcv.md §2.2)
    if stype not in ("console", "virtual"):
        raise ValueError("Invalid session type '%s' (console or virtual)" % stype)
    name = opts.get("name", "")
    if len(name) > 256:
        raise ValueError("Session name longer than 256 characters")
    owner = opts.get("owner") or calling_user()
    if not sessions.server_running():
        # dcv.md §2.2 (third-party report) and design §9: with dcvserver down
        # create-session exits 0 and creates nothing.
        return 0
    try:
        owner_pw = pwd.getpwnam(owner)
    except KeyError:
        sys.stderr.write("Could not create session. Error: user '%s' does not exist\n" % owner)
        return 1
    if "user" in opts and (stype != "virtual" or os.getuid() != 0):
        sys.stderr.write("Could not create session. Error: --user needs a virtual session "
                         "created by root\n")
        return 1
    if stype == "console" and os.getuid() != 0:
        sys.stderr.write("Could not create session. Error: a console session can only be "
                         "created by root\n")  # lab wording
        return 1
    existing = sessions.load_all()
    if any(s["id"] == sid for s in existing):
        sys.stderr.write("Could not create session. Error: session '%s' already exists\n" % sid)
        return 1
    if stype == "console" and any(s["type"] == "console" for s in existing):
        # Only one console session per host (dcv.md §2.2).
        sys.stderr.write("Could not create session. Error: a console session already exists "
                         "on this host\n")  # lab wording
        return 1
    sessions.save(sessions.new_session(sid, stype, owner, name, owner_pw.pw_uid))
    return 0


def cmd_close_session(args):
    opts, pos = parse_options(args, (), flags=("logout-user",))
    if len(pos) != 1:
        raise ValueError("close-session needs exactly one SESSION_ID")
    s = sessions.find(pos[0])
    if s is None:
        sys.stderr.write("Could not close session '%s': session not found\n" % pos[0])
        return 1
    if s["type"] == "console" and os.getuid() != 0:
        # Console sessions: root only (dcv.md §2.3).
        sys.stderr.write("Could not close session '%s': permission denied\n" % pos[0])
        return 1
    sessions.remove(s["id"])
    return 0


def cmd_version(args):
    # Format UNCONFIRMED (dcv.md §2.7); modelled on the observed `Amazon DCV 2024.0 (r...)`.
    print("Amazon DCV 2024.0 (r18131)")
    print("Copyright (C) 2010-2024 Amazon.com, Inc. or its affiliates. All rights reserved.")
    return 0


def usage():
    sys.stderr.write("Usage: dcv COMMAND [OPTIONS...]\n\nCommands:\n")
    for c in COMMANDS:
        sys.stderr.write("  %s\n" % c)


HANDLERS = {
    "create-session": cmd_create_session,
    "close-session": cmd_close_session,
    "list-sessions": cmd_list_sessions,
    "describe-session": cmd_describe_session,
    "version": cmd_version,
}


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("help", "--help", "-h"):
        usage()
        return 0 if args else 1
    cmd, rest = args[0], args[1:]
    if cmd not in COMMANDS:
        sys.stderr.write("dcv: unknown command '%s'\n" % cmd)
        usage()
        return 1
    if cmd not in HANDLERS:
        sys.stderr.write("dcv: '%s' is not simulated in the dcvctl lab\n" % cmd)
        return 1
    try:
        return HANDLERS[cmd](rest)
    except ValueError as e:
        sys.stderr.write("dcv %s: %s\n" % (cmd, e))
        return 1
