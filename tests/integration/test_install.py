"""test_install.py: `cmake --install` into a temporary prefix puts cmagent, cmctl, the manuals
cmagent(8), cmctl(1) and cmagent.conf(5), the example config, the hardened systemd unit and the
bash completion in their usual places; the manuals render without warnings, cmagent.conf(5) names
every key the agent knows, the unit passes `systemd-analyze verify` (where systemd is installed;
its keys are checked everywhere), and the installed cmctl talks to an agent."""

import os
import re
import shutil
import stat
import subprocess
import tempfile

from helpers import CMAGENT_BIN, HOST, Broker, Agent, check, run_tests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("CMAGENT_BUILD_DIR") or os.path.dirname(os.path.abspath(CMAGENT_BIN))

TREE = {
    "sbin/cmagent": True,  # executable
    "bin/cmctl": True,
    "share/man/man8/cmagent.8": False,
    "share/man/man1/cmctl.1": False,
    "share/man/man5/cmagent.conf.5": False,
    "share/doc/cmagent/cmagent.conf.example": False,
    "lib/systemd/system/cmagent.service": False,
    "share/bash-completion/completions/cmctl": False,
}

_prefix = {}


def installed():
    """The prefix of one `cmake --install` of this build (made on first use, removed at exit)."""
    if "dir" not in _prefix:
        d = tempfile.mkdtemp(prefix="cmagent-install-")
        p = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", d], capture_output=True, text=True,
                           timeout=120)
        check(p.returncode == 0, "cmake --install failed:\n%s\n%s" % (p.stdout, p.stderr))
        _prefix["dir"] = d
        _prefix["log"] = p.stdout
    return _prefix["dir"]


def test_the_tree():
    d = installed()
    for rel, executable in TREE.items():
        path = os.path.join(d, rel)
        check(os.path.isfile(path), "not installed: %s\n%s" % (rel, _prefix["log"]))
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if executable:
            check(mode & 0o111, "%s is not executable (mode %o)" % (rel, mode))
        else:
            check(not mode & 0o111 and mode & 0o444 == 0o444, "%s has mode %o" % (rel, mode))
    outside = [ln for ln in _prefix["log"].splitlines() if ln.startswith("-- Installing: ") and d not in ln]
    check(not outside, "installed outside the prefix: %r" % outside)
    with open(os.path.join(REPO, "config", "cmagent.conf.example")) as a, \
            open(os.path.join(d, "share/doc/cmagent/cmagent.conf.example")) as b:
        check(a.read() == b.read(), "the installed example config differs from config/cmagent.conf.example")
    for rel, name in (("sbin/cmagent", "cmagent"), ("bin/cmctl", "cmctl")):
        p = subprocess.run([os.path.join(d, rel), "--version"], capture_output=True, text=True, timeout=30)
        check(p.returncode == 0 and p.stdout.startswith(name + " "), "%s --version: %r" % (rel, p))


def render(path):
    """The page as text (man -l, else groff), and the formatter's warnings."""
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    warnings = ""
    if shutil.which("groff"):
        w = subprocess.run(["groff", "-man", "-ww", "-z", path], capture_output=True, text=True, env=env)
        warnings = w.stderr
    if shutil.which("man"):
        p = subprocess.run(["man", "-l", path], capture_output=True, text=True, env=env, timeout=30)
        check(p.returncode == 0, "man -l %s: %s" % (path, p.stderr))
        return p.stdout, warnings + p.stderr
    check(shutil.which("groff"), "neither man nor groff is installed (scripts/deps installs them)")
    p = subprocess.run(["groff", "-man", "-Tutf8", path], capture_output=True, text=True, env=env)
    return p.stdout, warnings + p.stderr


def test_man_pages_render():
    d = installed()
    for rel, title, words in (("share/man/man8/cmagent.8", "CMAGENT(8)", ["--defaults", "SIGTERM", "cmagent.service"]),
                              ("share/man/man1/cmctl.1", "CMCTL(1)", ["--follow", "0600", "EXIT STATUS", "--json"]),
                              ("share/man/man5/cmagent.conf.5", "CMAGENT.CONF(5)", ["broker", "SETTINGS"])):
        text, warnings = render(os.path.join(d, rel))
        plain = re.sub(r".\x08", "", text)
        check(not warnings.strip(), "%s: formatter warnings:\n%s" % (rel, warnings))
        check(plain.lstrip().startswith(title) and "NAME" in plain, "%s does not render:\n%s" % (rel, plain[:500]))
        for w in words:
            check(w in plain, "%s does not mention %s" % (rel, w))
        check("@VERSION@" not in plain and "@" + "CMAGENT" not in plain, "%s: an unreplaced placeholder" % rel)


def test_conf_page_names_every_key():
    d = installed()
    p = subprocess.run([os.path.join(d, "sbin/cmagent"), "--defaults"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "cmagent --defaults: %r" % p)
    keys = [m.group(1) for m in re.finditer(r"^#? ?([a-z][a-z0-9_]*)(?: |$)", p.stdout, re.M)]
    check(len(keys) > 30, "cmagent --defaults printed %d keys" % len(keys))
    with open(os.path.join(d, "share/man/man5/cmagent.conf.5")) as f:
        page = f.read()
    missing = [k for k in keys if "\\fB%s\\fR" % k not in page]
    check(not missing, "cmagent.conf(5) lacks %r" % missing)


def unit_keys(path):
    keys = {}
    with open(path) as f:
        for ln in f:
            ln = ln.strip()
            if ln and not ln.startswith(("#", "[")) and "=" in ln:
                k, v = ln.split("=", 1)
                keys.setdefault(k, []).append(v)
    return keys


def test_systemd_unit():
    d = installed()
    unit = os.path.join(d, "lib/systemd/system/cmagent.service")
    k = unit_keys(unit)
    exec_start = k["ExecStart"][0].split()
    check(exec_start[0] == os.path.join(d, "sbin/cmagent") and os.access(exec_start[0], os.X_OK),
          "ExecStart does not name the installed agent: %r" % exec_start)
    check(exec_start[1:] == ["-c", "${CREDENTIALS_DIRECTORY}/cmagent.conf"], "ExecStart arguments %r" % exec_start)
    check(k["LoadCredential"] == ["cmagent.conf:%s" % os.path.join(d, "etc/cmagent/cmagent.conf")],
          "LoadCredential %r" % k.get("LoadCredential"))
    want = {"DynamicUser": "yes", "ProtectSystem": "strict", "StateDirectory": "cmagent",
            "Restart": "on-failure", "RestartPreventExitStatus": "2", "NoNewPrivileges": "yes", "ProtectHome": "yes", "PrivateTmp": "yes",
            "SyslogIdentifier": "cmagent", "CapabilityBoundingSet": "", "WorkingDirectory": "/var/lib/cmagent", "WantedBy": "multi-user.target"}
    for key, v in want.items():
        check(k.get(key) == [v], "%s=%r, want %r" % (key, k.get(key), v))
    check("@system-service" in k.get("SystemCallFilter", []), "no system call filter")
    if shutil.which("systemd-analyze") is None:
        print("systemd-analyze is not installed: the unit's keys were checked, not verified by systemd")
        return
    env = dict(os.environ, MANPATH=os.path.join(d, "share/man"))
    p = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, env=env, timeout=60)
    check(p.returncode == 0 and not p.stderr.strip(), "systemd-analyze verify: %d\n%s%s"
          % (p.returncode, p.stdout, p.stderr))
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit], capture_output=True, text=True,
                       env=env, timeout=60)
    m = re.search(r"Overall exposure level for cmagent.service: ([0-9.]+)", p.stdout)
    check(m and float(m.group(1)) <= 2.0, "systemd-analyze security: exposure %s\n%s"
          % (m and m.group(1), p.stdout[-2000:]))
    print("systemd-analyze security: exposure %s" % m.group(1))


def test_installed_cmctl_and_completion_work():
    d = installed()
    with Broker() as b, Agent(b.port):
        home = tempfile.mkdtemp(prefix="cmctl-home-")
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home)
        p = subprocess.run([os.path.join(d, "bin/cmctl"), "--broker", "tcp://%s:%d" % (HOST, b.port), "agent", "ping"],
                           capture_output=True, text=True, env=env, timeout=60)
        shutil.rmtree(home, ignore_errors=True)
    check(p.returncode == 0 and re.search(r"^version\s+\S+", p.stdout, re.M), "installed cmctl: %r" % p)
    script = ('PATH=%s:$PATH\nsource %s\ncomplete -p cmctl\nCOMP_WORDS=(cmctl dev)\nCOMP_CWORD=1\n_cmctl\n'
              'echo "${COMPREPLY[@]}"\n' % (os.path.join(d, "bin"),
                                             os.path.join(d, "share/bash-completion/completions/cmctl")))
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and "complete -F _cmctl cmctl" in p.stdout and "device" in p.stdout,
          "installed completion: %r" % p)


def test_zz_cleanup():
    if "dir" in _prefix:
        shutil.rmtree(_prefix["dir"], ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())
