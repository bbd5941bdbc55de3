"""Package managers of lab hosts: yum, dnf and rpm on the Amazon Linux 2
hosts (bastion, gateway); apt-get, apt, dpkg and dpkg-query on the Ubuntu
22.04 agents.  Chosen by the name the tool is called by.

The lab never installs anything from a repository (the machine's own package
manager must stay untouched, design §9): a package is installed -- listed in
/var/lib/labsim/packages as `name version` --, removed (its files kept in the
host's own cache /var/cache/labsim/NAME, see `remove`), or unknown.
Installing an installed package says so and succeeds; installing a removed
one puts its files back, as a real install from the repository would; an
unknown one fails, each with the real tool's wording and exit status (yum/dnf
1, apt-get 100).  `yum remove` / `apt-get remove` of a package whose files
the lab knows (FILES) moves them into that cache, so a test can give a host
"no nginx" and watch dcvctl install it.
"""

import os
import shutil
import sys

from . import common

YUM_PLUGINS = "Loaded plugins: extras_suggestions, langpacks, priorities, update-motd"
ARCH = "x86_64"


def installed():
    pkgs = {}
    try:
        with open(os.path.join(common.SIM_STATE, "packages")) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    pkgs[parts[0]] = parts[1]
    except OSError:
        pass
    return pkgs


# The files that make a package present for dcvctl (`command -v` finds its binary).
FILES = {"nginx": ["/usr/sbin/nginx"], "haproxy": ["/usr/sbin/haproxy"]}
CACHE = "/var/cache/labsim"


def write_installed(pkgs):
    path = os.path.join(common.SIM_STATE, "packages")
    with open(path + ".new", "w") as f:
        for n in sorted(pkgs):
            f.write("%s %s\n" % (n, pkgs[n]))
    os.replace(path + ".new", path)


def removed_version(name):
    """The version of a removed package kept in the cache, None if there is none."""
    try:
        with open(os.path.join(CACHE, name, ".version")) as f:
            return f.read().strip() or None
    except OSError:
        return None


def remove(pkgs, name):
    """Move the package's files into the cache; False if the lab cannot remove it."""
    if name not in pkgs or name not in FILES:
        return False
    for path in FILES[name]:
        dest = os.path.join(CACHE, name) + path
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.lexists(path):
            shutil.move(path, dest)
    with open(os.path.join(CACHE, name, ".version"), "w") as f:
        f.write(pkgs.pop(name) + "\n")
    write_installed(pkgs)
    return True


def reinstall(pkgs, name):
    """Put a removed package's files back; False if it was never removed."""
    version = removed_version(name)
    if version is None:
        return False
    for path in FILES.get(name, []):
        src = os.path.join(CACHE, name) + path
        if os.path.lexists(src):
            shutil.move(src, path)
    shutil.rmtree(os.path.join(CACHE, name), ignore_errors=True)
    pkgs[name] = version
    write_installed(pkgs)
    return True


def split_args(args):
    opts = [a for a in args if a.startswith("-")]
    words = [a for a in args if not a.startswith("-")]
    return opts, words


def rpm_name(name, version):
    epoch, _, rest = version.rpartition(":")
    prefix = epoch + ":" if epoch else ""
    return "%s%s-%s.%s" % (prefix, name, rest, ARCH)


def yum(args):
    opts, words = split_args(args)
    quiet = "-q" in opts or "--quiet" in opts
    if not words:
        sys.stderr.write("You need to give some command\n")
        return 1
    cmd, names = words[0], words[1:]
    pkgs = installed()
    if not quiet:
        print(YUM_PLUGINS)
    if cmd in ("update", "upgrade"):
        if names and any(n not in pkgs for n in names):
            for n in names:
                if n not in pkgs:
                    print("Package(s) %s available, but not installed." % n)
        print("No packages marked for update")
        return 0
    if cmd == "install":
        missing = [n for n in names if n not in pkgs and removed_version(n) is None]
        for n in missing:
            print("No package %s available." % n)
        if missing or not names:
            sys.stderr.write("Error: Nothing to do\n")
            return 1
        for n in names:
            if n in pkgs:
                print("Package %s already installed and latest version" % rpm_name(n, pkgs[n]))
        new = [n for n in names if n not in pkgs]
        if not new:
            print("Nothing to do")
            return 0
        print("Resolving Dependencies")
        for n in new:
            reinstall(pkgs, n)
        print("\nInstalled:\n  " + "  ".join(rpm_name(n, pkgs[n]) for n in new) + "\n\nComplete!")
        return 0
    if cmd in ("remove", "erase"):
        gone = [n for n in names if n not in pkgs]
        for n in gone:
            print("No Match for argument: %s" % n)
        done = [n for n in names if remove(pkgs, n)]
        if not done:
            print("No Packages marked for removal")
            return 1 if gone or not names else 0
        print("Removed:\n  " + "  ".join(done) + "\n\nComplete!")
        return 0
    if cmd == "list" and names[:1] == ["installed"]:
        wanted = names[1:] or sorted(pkgs)
        found = [n for n in wanted if n in pkgs]
        if not found:
            sys.stderr.write("Error: No matching Packages to list\n")
            return 1
        print("Installed Packages")
        for n in found:
            print("%-40s %-30s @amzn2-core" % ("%s.%s" % (n, ARCH), pkgs[n]))
        return 0
    if cmd in ("makecache", "clean"):
        return 0
    sys.stderr.write("lab yum: '%s' is not simulated\n" % cmd)
    return 1


def dnf(args):
    opts, words = split_args(args)
    if not words:
        sys.stderr.write("dnf: error: the following arguments are required: command\n")
        return 2
    cmd, names = words[0], words[1:]
    pkgs = installed()
    if cmd in ("install", "update", "upgrade"):
        print("Last metadata expiration check: 0:00:01 ago.")
        missing = [n for n in names if n not in pkgs and
                   (cmd != "install" or removed_version(n) is None)]
        for n in missing:
            print("No match for argument: %s" % n)
        if cmd == "install":
            for n in names:
                if n not in pkgs and n not in missing:
                    reinstall(pkgs, n)
                    print("Installed:\n  %s" % rpm_name(n, pkgs[n]))
        if missing and cmd == "install":
            sys.stderr.write("Error: Unable to find a match: %s\n" % " ".join(missing))
            return 1
        for n in names:
            if n in pkgs and cmd == "install":
                print("Package %s is already installed." % rpm_name(n, pkgs[n]))
        print("Dependencies resolved.")
        print("Nothing to do.")
        print("Complete!")
        return 0
    if cmd in ("makecache", "clean"):
        return 0
    sys.stderr.write("lab dnf: '%s' is not simulated\n" % cmd)
    return 1


def rpm(args):
    opts, words = split_args(args)
    if not any(o in opts for o in ("-q", "--query", "-qa")):
        sys.stderr.write("lab rpm: only queries are simulated\n")
        return 1
    pkgs = installed()
    if "-qa" in opts or "-a" in opts:
        for n in sorted(pkgs):
            print(rpm_name(n, pkgs[n]).split(":", 1)[-1])
        return 0
    rc = 0
    for n in words:
        if n in pkgs:
            print(rpm_name(n, pkgs[n]).split(":", 1)[-1])
        else:
            print("package %s is not installed" % n)
            rc = 1
    return rc


def apt_get(args, apt=False):
    if apt:
        sys.stderr.write("\nWARNING: apt does not have a stable CLI interface. "
                         "Use with caution in scripts.\n\n")
    opts, words = split_args(args)
    if not words:
        sys.stderr.write("E: Invalid operation\n" if not apt else "apt: no command given\n")
        return 100 if not apt else 1
    cmd, names = words[0], words[1:]
    pkgs = installed()
    if cmd == "update":
        print("Reading package lists...")
        return 0
    if cmd in ("install", "upgrade", "dist-upgrade"):
        print("Reading package lists...")
        print("Building dependency tree...")
        print("Reading state information...")
        for n in names:
            if n not in pkgs and (cmd != "install" or removed_version(n) is None):
                sys.stderr.write("E: Unable to locate package %s\n" % n)
                return 100
        new = [n for n in names if n not in pkgs]
        for n in new:
            reinstall(pkgs, n)
            print("Setting up %s (%s) ..." % (n, pkgs[n]))
        for n in names:
            if n not in new:
                print("%s is already the newest version (%s)." % (n, pkgs[n]))
        print("0 upgraded, %d newly installed, 0 to remove and 0 not upgraded." % len(new))
        return 0
    if cmd in ("remove", "purge"):
        print("Reading package lists...")
        for n in names:
            if n not in pkgs:
                print("Package '%s' is not installed, so not removed" % n)
            elif not remove(pkgs, n):
                sys.stderr.write("lab apt-get: removing %s is not simulated\n" % n)
                return 100
            else:
                print("Removing %s (%s) ..." % (n, removed_version(n)))
        return 0
    sys.stderr.write("E: Invalid operation %s\n" % cmd)
    return 100


def dpkg_query(args, via_dpkg=False):
    if via_dpkg and "--print-architecture" in args:
        print("amd64")
        return 0
    opts, words = split_args(args)
    pkgs = installed()
    fmt = None
    for o in opts:
        if o.startswith("-f") or o.startswith("--showformat="):
            fmt = o.split("=", 1)[1] if "=" in o else None
    if "-f" in opts:
        i = args.index("-f")
        fmt = args[i + 1] if i + 1 < len(args) else None
        words = [w for w in words if w != fmt]
    rc = 0
    for n in words:
        if n not in pkgs:
            sys.stderr.write("dpkg-query: package '%s' is not installed and no information "
                             "is available\n" % n)
            rc = 1
            continue
        if "-W" in opts or "--show" in opts:
            if fmt:
                out = (fmt.replace("${Status}", "install ok installed")
                       .replace("${Version}", pkgs[n]).replace("${Package}", n)
                       .replace("\\n", "\n"))
                sys.stdout.write(out)
            else:
                print("%s\t%s" % (n, pkgs[n]))
        else:
            print("Package: %s\nStatus: install ok installed\nVersion: %s\n" % (n, pkgs[n]))
    return rc


def main():
    tool = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    if tool == "yum":
        return yum(args)
    if tool == "dnf":
        return dnf(args)
    if tool == "rpm":
        return rpm(args)
    if tool == "apt-get":
        return apt_get(args)
    if tool == "apt":
        return apt_get(args, apt=True)
    if tool in ("dpkg-query", "dpkg"):
        return dpkg_query(args, via_dpkg=(tool == "dpkg"))
    sys.stderr.write("lab pkg: called as unknown tool %s\n" % tool)
    return 1
