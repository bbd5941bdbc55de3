"""systemctl (and a small journalctl) for lab hosts, which have no systemd.

PID 1 on the lab machine is not systemd (machine-notes.md), so this stands in
for it.  It manages the units installed on the host -- a unit exists when
its unit file is in /usr/lib/systemd/system (the lab writes one per product
and role) -- and keeps the enable state where systemd does, as symlinks in
/etc/systemd/system/multi-user.target.wants.

Messages and exit codes follow systemd (systemctl(1) "EXIT STATUS": 0, 1, 3
for is-active/status of an inactive unit, 4 for status of an unknown unit, 5
for start/stop of an unknown unit); is-active and is-enabled succeed when at
least one named unit is active/enabled, as systemd does.

Timers (`.timer` files, enabled into timers.target.wants) are stateless units
that never fire on their own: a test starts their service itself.  A service
of Type=oneshot runs its ExecStart to the end on `start`, its output going to
its journal; a non-zero exit leaves it failed.  `logger -t TAG` writes to the
journal of TAG, which `journalctl -t TAG` reads (the lab has no syslog).

Real daemons (nginx, haproxy, sshd) run the commands of Debian's unit files
(nginx: `nginx -t -q` as ExecStartPre, `nginx -s reload` as ExecReload;
haproxy: `haproxy -c` before start and reload).  Simulated DCV daemons are
started detached (own session, stdio to the unit's journal) and count as
started once they have written their pid file, i.e. hold their ports.
"""

import os
import signal
import subprocess
import sys
import time

from . import common

UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system")
WANTS = "/etc/systemd/system/multi-user.target.wants"
TIMER_WANTS = "/etc/systemd/system/timers.target.wants"
NGINX = "/usr/sbin/nginx"
HAPROXY = "/usr/sbin/haproxy"
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"

# kind, pid file, command (for simulated daemons)
REGISTRY = {
    "nginx": ("nginx", "/run/nginx.pid", None),
    "haproxy": ("haproxy", "/run/haproxy.pid", None),
    "sshd": ("sshd", "/run/sshd.pid", None),
    "ssh": ("sshd", "/run/sshd.pid", None),
    "dcvserver": ("sim", "/run/labsim/pids/dcvserver.pid", "/usr/bin/dcvserver"),
    "dcv-session-manager-agent": ("sim", "/run/labsim/pids/dcv-session-manager-agent.pid",
                                  "/usr/bin/dcv-session-manager-agent"),
    "dcv-session-manager-broker": ("sim", "/run/labsim/pids/dcv-session-manager-broker.pid",
                                   "/usr/bin/dcv-session-manager-broker"),
    "dcv-connection-gateway": ("sim", "/run/labsim/pids/dcv-connection-gateway.pid",
                               "/usr/bin/dcv-connection-gateway"),
}
# Units whose real unit file has an ExecReload (or nginx/haproxy/sshd own reload).
RELOADABLE = {"nginx", "haproxy", "sshd", "dcv-connection-gateway", "crond", "cron"}


class UnitError(Exception):
    def __init__(self, msg, code):
        super().__init__(msg)
        self.code = code


def os_id():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("ID="):
                    return common.unquote(line[3:])
    except OSError:
        pass
    return "linux"


def full_name(name):
    return name if "." in name else name + ".service"


def unit_file(name):
    """Path of the unit's file, or None when the unit is not installed."""
    fname = full_name(name)
    if not fname.endswith((".service", ".timer")):
        return None
    for d in UNIT_DIRS:
        p = os.path.join(d, fname)
        if os.path.exists(p):
            return p
    return None


def canonical(name):
    """`sshd` on Ubuntu is an alias (symlink) of ssh.service."""
    p = unit_file(name)
    if p is None:
        return None
    real = os.path.basename(os.path.realpath(p))
    return real[:-len(".service")] if real.endswith(".service") else real


def wants_dir(unit):
    return TIMER_WANTS if unit.endswith(".timer") else WANTS


def unit_setting(unit, key):
    """The value of `key=` in the unit's file, or None."""
    try:
        with open(unit_file(unit)) as f:
            for line in f:
                if line.startswith(key + "="):
                    return line.split("=", 1)[1].strip()
    except (OSError, TypeError):
        pass
    return None


def describe(unit):
    p = unit_file(unit)
    try:
        with open(p) as f:
            for line in f:
                if line.startswith("Description="):
                    return line.split("=", 1)[1].strip()
    except (OSError, TypeError):
        pass
    return unit


def state_path(unit, what):
    return os.path.join(common.UNIT_STATE, "%s.%s" % (unit, what))


def journal(unit, text):
    os.makedirs(common.UNIT_STATE, exist_ok=True)
    stamp = time.strftime("%b %d %H:%M:%S")
    host = os.uname().nodename
    with open(state_path(unit, "journal"), "a") as f:
        for line in text.splitlines():
            f.write("%s %s %s: %s\n" % (stamp, host, unit, line))


def touch(path, content=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def rm(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def main_pid(unit):
    kind, pidfile, _ = REGISTRY.get(unit, ("stateless", None, None))
    if kind == "stateless":
        return None
    pid = common.read_pid(pidfile)
    return pid if common.pid_alive(pid) else None


def active_state(unit):
    kind = REGISTRY.get(unit, ("stateless",))[0]
    if kind == "stateless":
        if os.path.exists(state_path(unit, "active")):
            return "active"
    elif main_pid(unit):
        return "active"
    if os.path.exists(state_path(unit, "failed")):
        return "failed"
    if os.path.exists(state_path(unit, "since")):
        # Started and never stopped, yet its process is gone: it died.
        return "failed"
    return "inactive"


def enabled(unit):
    return os.path.lexists(os.path.join(wants_dir(unit), full_name(unit)))


def job_failed(unit, output, how="the control process exited with error code"):
    if output:
        journal(unit, output)
    touch(state_path(unit, "failed"))
    rm(state_path(unit, "since"))
    raise UnitError('Job for %s failed because %s.\nSee "systemctl status %s" and '
                    '"journalctl -xeu %s" for details.'
                    % (full_name(unit), how, full_name(unit), full_name(unit)), 1)


def run(cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return p.returncode, p.stdout


def wait_pid(unit, timeout):
    return common.wait_for(lambda: main_pid(unit) is not None, timeout)


def start_nginx(unit):
    g = ["-g", "daemon on; master_process on;"]
    rc, out = run([NGINX, "-t", "-q"] + g)          # ExecStartPre
    if rc != 0:
        job_failed(unit, out)
    rc, out = run([NGINX] + g)                       # ExecStart
    if rc != 0 or not wait_pid(unit, 5):
        job_failed(unit, out)
    journal(unit, out)


def start_haproxy(unit):
    os.makedirs("/run/haproxy", exist_ok=True)      # RuntimeDirectory=haproxy
    rc, out = run([HAPROXY, "-c", "-q", "-f", HAPROXY_CFG])
    if rc != 0:
        job_failed(unit, out)
    rc, out = run([HAPROXY, "-D", "-f", HAPROXY_CFG, "-p", "/run/haproxy.pid"])
    if rc != 0 or not wait_pid(unit, 5):
        job_failed(unit, out)
    journal(unit, out)


def sshd_log():
    return "/var/log/secure" if os_id() == "amzn" else "/var/log/auth.log"


def start_sshd(unit):
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    rc, out = run(["/usr/sbin/sshd", "-t"])
    if rc != 0:
        job_failed(unit, out)
    rc, out = run(["/usr/sbin/sshd", "-E", sshd_log()])
    if rc != 0 or not wait_pid(unit, 5):
        job_failed(unit, out)


def start_sim(unit):
    _, pidfile, cmd = REGISTRY[unit]
    rm(pidfile)
    os.makedirs(common.UNIT_STATE, exist_ok=True)
    with open(state_path(unit, "journal"), "a") as log:
        proc = subprocess.Popen([cmd], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                close_fds=True, start_new_session=True, cwd="/")
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if main_pid(unit) == proc.pid:
            return
        if proc.poll() is not None:
            job_failed(unit, "")
        time.sleep(0.02)
    proc.kill()
    job_failed(unit, "", "a timeout was exceeded")


def start_oneshot(unit):
    """Type=oneshot: ExecStart runs to its end; the unit is inactive again after."""
    rc, out = run(["/bin/sh", "-c", unit_setting(unit, "ExecStart") or "true"])
    if out:
        journal(unit, out)
    if rc != 0:
        job_failed(unit, "")


def do_start(unit):
    if active_state(unit) == "active":
        return
    rm(state_path(unit, "failed"))
    kind = REGISTRY.get(unit, ("stateless",))[0]
    if kind == "stateless" and unit_setting(unit, "Type") == "oneshot":
        start_oneshot(unit)
        return
    if kind == "nginx":
        start_nginx(unit)
    elif kind == "haproxy":
        start_haproxy(unit)
    elif kind == "sshd":
        start_sshd(unit)
    elif kind == "sim":
        start_sim(unit)
    else:
        touch(state_path(unit, "active"))
    touch(state_path(unit, "since"), "%f\n" % time.time())


def kill_and_wait(pid, sig, timeout, group=False):
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return True
    return common.wait_for(lambda: not common.pid_alive(pid), timeout)


def do_stop(unit):
    kind, pidfile, _ = REGISTRY.get(unit, ("stateless", None, None))
    pid = main_pid(unit)
    if kind == "stateless":
        rm(state_path(unit, "active"))
    elif pid:
        if kind == "nginx":
            # Debian: start-stop-daemon --stop --retry QUIT/5 --pidfile /run/nginx.pid
            if not kill_and_wait(pid, signal.SIGQUIT, 5):
                kill_and_wait(pid, signal.SIGKILL, 2)
        elif kind == "haproxy":
            pids = [p for p in open(pidfile).read().split() if p.isdigit()]
            for p in pids:
                kill_and_wait(int(p), signal.SIGTERM, 5)
        elif kind == "sshd":
            # KillMode=process: open sessions survive, as on a real host.
            kill_and_wait(pid, signal.SIGTERM, 5)
        else:
            # KillMode=control-group: the daemon and every child it forked.
            if not kill_and_wait(pid, signal.SIGTERM, 5, group=True):
                kill_and_wait(pid, signal.SIGKILL, 2, group=True)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if pidfile:
        rm(pidfile)
    if unit == "dcvserver":
        # Sessions die with the server (dcv.md §2.2), even when it had to be killed.
        from . import sessions
        sessions.clear()
    rm(state_path(unit, "since"))
    rm(state_path(unit, "failed"))


def do_reload(unit):
    if active_state(unit) != "active":
        raise UnitError("%s is not active, cannot reload." % full_name(unit), 1)
    if unit not in RELOADABLE:
        raise UnitError("Failed to reload %s: Job type reload is not applicable for unit %s."
                        % (full_name(unit), full_name(unit)), 1)
    kind = REGISTRY.get(unit, ("stateless",))[0]
    if kind == "nginx":
        rc, out = run([NGINX, "-g", "daemon on; master_process on;", "-s", "reload"])
        if rc != 0:
            journal(unit, out)
            raise UnitError('Job for %s failed because the control process exited with error '
                            'code.\nSee "systemctl status %s" and "journalctl -xeu %s" for '
                            'details.' % ((full_name(unit),) * 3), 1)
    elif kind == "haproxy":
        rc, out = run([HAPROXY, "-c", "-q", "-f", HAPROXY_CFG])
        if rc != 0:
            journal(unit, out)
            raise UnitError('Job for %s failed because the control process exited with error '
                            'code.\nSee "systemctl status %s" and "journalctl -xeu %s" for '
                            'details.' % ((full_name(unit),) * 3), 1)
        old = open("/run/haproxy.pid").read().split()
        rc, out = run([HAPROXY, "-D", "-f", HAPROXY_CFG, "-p", "/run/haproxy.pid", "-sf"] + old)
        journal(unit, out)
    elif kind in ("sshd", "sim"):
        os.kill(main_pid(unit), signal.SIGHUP)


def link_messages(unit, enable):
    src = os.path.join(wants_dir(unit), full_name(unit))
    target = os.path.realpath(unit_file(unit))
    if os_id() == "amzn":  # systemd 219 wording (Amazon Linux 2)
        if enable:
            return "Created symlink from %s to %s." % (src, target)
        return "Removed symlink %s." % src
    target = target.replace("/usr/lib/systemd/", "/lib/systemd/")
    if enable:
        return "Created symlink %s \u2192 %s." % (src, target)
    return "Removed %s." % src


def do_enable(unit):
    if enabled(unit):
        return
    os.makedirs(wants_dir(unit), exist_ok=True)
    os.symlink(os.path.realpath(unit_file(unit)), os.path.join(wants_dir(unit), full_name(unit)))
    sys.stderr.write(link_messages(unit, True) + "\n")


def do_disable(unit):
    if not enabled(unit):
        return
    os.unlink(os.path.join(wants_dir(unit), full_name(unit)))
    sys.stderr.write(link_messages(unit, False) + "\n")


def fmt_since(unit):
    try:
        t = float(open(state_path(unit, "since")).read())
    except (OSError, ValueError):
        return ""
    ago = int(time.time() - t)
    when = time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(t))
    if ago < 60:
        rel = "%ds ago" % ago
    elif ago < 3600:
        rel = "%dmin %ds ago" % (ago // 60, ago % 60)
    else:
        rel = "%dh %dmin ago" % (ago // 3600, ago % 3600 // 60)
    return " since %s; %s" % (when, rel)


def journal_tail(unit, n):
    try:
        with open(state_path(unit, "journal")) as f:
            return f.read().splitlines()[-n:] if n > 0 else []
    except OSError:
        return []


def print_status(unit, lines):
    state = active_state(unit)
    dot = {"active": "\u25cf", "failed": "\u00d7"}.get(state, "\u25cb")
    path = os.path.realpath(unit_file(unit))
    if os_id() != "amzn":
        path = path.replace("/usr/lib/systemd/", "/lib/systemd/")
    en = "enabled" if enabled(unit) else "disabled"
    print("%s %s - %s" % (dot, full_name(unit), describe(unit)))
    print("     Loaded: loaded (%s; %s; vendor preset: enabled)" % (path, en))
    if state == "active":
        print("     Active: active (running)%s" % fmt_since(unit))
        pid = main_pid(unit)
        if pid:
            comm = open("/proc/%d/comm" % pid).read().strip()
            print("   Main PID: %d (%s)" % (pid, comm))
    elif state == "failed":
        print("     Active: failed (Result: exit-code)")
    else:
        print("     Active: inactive (dead)")
    tail = journal_tail(unit, lines)
    if tail:
        print()
        for line in tail:
            print(line)


def show_missing(name, props, value_only):
    # systemd answers `show` for a unit it cannot find with its defaults, exit 0
    values = {"Id": full_name(name), "Names": full_name(name), "LoadState": "not-found",
              "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "", "MainPID": "0"}
    for k in props or list(values):
        v = values.get(k, "")
        print(v if value_only else "%s=%s" % (k, v))


def show(unit, props, value_only):
    state = active_state(unit)
    sub = {"active": "running", "failed": "failed"}.get(state, "dead")
    values = {
        "Id": full_name(unit),
        "Names": full_name(unit),
        "Description": describe(unit),
        "LoadState": "loaded",
        "ActiveState": state,
        "SubState": sub,
        "UnitFileState": "enabled" if enabled(unit) else "disabled",
        "MainPID": str(main_pid(unit) or 0),
        "FragmentPath": os.path.realpath(unit_file(unit)),
    }
    keys = props or list(values)
    for k in keys:
        v = values.get(k, "")
        print(v if value_only else "%s=%s" % (k, v))


def require_root(verb, unit):
    if os.getuid() != 0:
        raise UnitError("Failed to %s %s: Interactive authentication required.\n"
                        "See system logs and 'systemctl status %s' for details."
                        % (verb, full_name(unit), full_name(unit)), 1)


def not_found(verb, name):
    fn = full_name(name)
    if verb in ("start", "restart", "reload", "try-restart", "reload-or-restart"):
        return UnitError("Failed to %s %s: Unit %s not found." % (verb, fn, fn), 5)
    if verb == "stop":
        return UnitError("Failed to stop %s: Unit %s not loaded." % (fn, fn), 5)
    if verb in ("enable", "disable"):
        return UnitError("Failed to %s unit: Unit file %s does not exist." % (verb, fn), 1)
    return UnitError("Unit %s could not be found." % fn, 4)


def main():
    if os.path.basename(sys.argv[0]) == "journalctl":
        return journalctl(sys.argv[1:])
    if os.path.basename(sys.argv[0]) == "logger":
        return logger(sys.argv[1:])
    args = sys.argv[1:]
    quiet = now = value_only = False
    lines = 10
    props = []
    words = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-q", "--quiet"):
            quiet = True
        elif a == "--now":
            now = True
        elif a == "--value":
            value_only = True
        elif a in ("-p", "--property"):
            i += 1
            props += args[i].split(",")
        elif a.startswith("--property="):
            props += a.split("=", 1)[1].split(",")
        elif a in ("-n", "--lines"):
            i += 1
            lines = int(args[i])
        elif a.startswith("--lines="):
            lines = int(a.split("=", 1)[1])
        elif a.startswith("-"):
            pass  # --no-pager, --no-block, -l, --full, --system, --plain, ...
        else:
            words.append(a)
        i += 1
    if not words:
        sys.stderr.write("lab systemctl: listing units is not simulated\n")
        return 1
    verb, names = words[0], words[1:]
    if verb in ("daemon-reload", "reset-failed"):
        if verb == "reset-failed":
            for n in names:
                u = canonical(n)
                if u:
                    rm(state_path(u, "failed"))
        return 0
    actions = ("start", "stop", "restart", "reload", "try-restart", "reload-or-restart",
               "enable", "disable", "is-active", "is-enabled", "is-failed", "status",
               "show", "cat")
    if verb not in actions:
        sys.stderr.write("Unknown command verb %s.\n" % verb)
        return 1
    if not names:
        sys.stderr.write("Too few arguments.\n")
        return 1

    if verb == "is-active":
        anyone = False
        for n in names:
            u = canonical(n)
            st = active_state(u) if u else "inactive"
            anyone = anyone or st == "active"
            if not quiet:
                print(st)
        return 0 if anyone else 3
    if verb == "is-failed":
        anyone = False
        for n in names:
            u = canonical(n)
            st = active_state(u) if u else "inactive"
            anyone = anyone or st == "failed"
            if not quiet:
                print(st)
        return 0 if anyone else 1
    if verb == "is-enabled":
        anyone, rc = False, 1
        for n in names:
            u = canonical(n)
            if u is None:
                sys.stderr.write("Failed to get unit file state for %s: No such file or "
                                 "directory\n" % full_name(n))
                continue
            e = enabled(u)
            anyone = anyone or e
            if not quiet:
                print("enabled" if e else "disabled")
        if anyone:
            rc = 0
        return rc

    rc = 0
    for i, n in enumerate(names):
        u = canonical(n)
        if verb == "show":
            if i:
                print()  # systemd separates units with an empty line
            if u is None:
                show_missing(n, props, value_only)
                continue
        try:
            if u is None:
                raise not_found(verb, n)
            if verb == "status":
                print_status(u, lines)
                if active_state(u) != "active":
                    rc = rc or 3
                continue
            if verb == "show":
                show(u, props, value_only)
                continue
            if verb == "cat":
                print("# %s" % os.path.realpath(unit_file(u)))
                print(open(unit_file(u)).read(), end="")
                continue
            require_root(verb, u)
            if verb == "start":
                do_start(u)
            elif verb == "stop":
                do_stop(u)
            elif verb in ("restart", "try-restart"):
                if verb == "restart" or active_state(u) == "active":
                    do_stop(u)
                    do_start(u)
            elif verb == "reload":
                do_reload(u)
            elif verb == "reload-or-restart":
                if active_state(u) == "active" and u in RELOADABLE:
                    do_reload(u)
                else:
                    do_stop(u)
                    do_start(u)
            elif verb == "enable":
                do_enable(u)
                if now:
                    do_start(u)
            elif verb == "disable":
                do_disable(u)
                if now:
                    do_stop(u)
        except UnitError as e:
            sys.stderr.write(str(e) + "\n")
            rc = rc or e.code
    return rc


def logger(args):
    """logger [-t TAG] [--] MESSAGE...: into the journal of TAG (default: the user)."""
    tag, i = os.environ.get("USER", "root"), 0
    while i < len(args):
        if args[i] in ("-t", "--tag"):
            tag = args[i + 1]
            i += 2
        elif args[i] == "--":
            i += 1
            break
        elif args[i].startswith("-"):
            i += 1
        else:
            break
    journal(tag, " ".join(args[i:]))
    return 0


def journalctl(args):
    units, n = [], None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-u", "--unit", "-t", "--identifier"):
            i += 1
            units.append(args[i])
        elif a.startswith("--unit="):
            units.append(a.split("=", 1)[1])
        elif a in ("-n", "--lines"):
            i += 1
            n = int(args[i])
        elif a.startswith("--lines="):
            n = int(a.split("=", 1)[1])
        elif a.startswith("-n") and a[2:].isdigit():
            n = int(a[2:])
        i += 1
    out = []
    for name in units:
        u = canonical(name) or name.replace(".service", "")
        out += journal_tail(u, 10 ** 6)
    if n is not None:
        out = out[-n:] if n > 0 else []
    if not out:
        print("-- No entries --")
    for line in out:
        print(line)
    return 0
