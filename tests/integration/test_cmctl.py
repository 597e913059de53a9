"""test_cmctl.py: cmctl, the command-line client, against a real mosquitto and cmagent: login and its
session file (mode 0600), create/list/get as tables and as --json piped into jq, the exit status and
stderr of error replies, the token refreshed when it expired (known expiry, and the agent's 401),
--follow receiving events with a gap in seq filled by event.replay, `op NAME JSON`, the settings from
flags, environment and a config file, --help at every level and the bash completion; all that against
an open broker (broker_acl none), and against the broker scripts/run starts (broker_acl dynsec): the
broker account that login takes from broker.credentials, kept in the session file, the replies on
cm/v1/reply/<its username>/<nonce> (anonymously on cm/v1/reply/anon/<nonce>), a password re-issued
to another login renewed, and broker credentials of the flags winning over the session's."""

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

from helpers import (CMAGENT_BIN, DYNSEC_AGENT_SETTINGS, HOST, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker,
                     Env, MqttSession, check, check_no_sanitizer_report, free_port, run_tests, unique, unique_email)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CMCTL_BIN = os.environ.get("CMCTL_BIN") or os.path.join(os.path.dirname(os.path.abspath(CMAGENT_BIN)), "cmctl")
COMPLETION = os.path.join(REPO, "completion", "cmctl.bash")
TA_PASSWORD = "acme-secret-1"


class Cli:
    """cmctl with a home of its own (XDG_CONFIG_HOME) and the test broker in CMCTL_BROKER."""

    def __init__(self, port):
        self.home = tempfile.mkdtemp(prefix="cmctl-home-")
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("CMCTL_"):
                del self.env[k]
        self.env.update({"HOME": self.home, "XDG_CONFIG_HOME": os.path.join(self.home, "cfg"),
                         "CMCTL_BROKER": "tcp://%s:%d" % (HOST, port)})

    def run(self, *args, input=None, env=None, timeout=60, ok=True):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([CMCTL_BIN] + list(args), capture_output=True, text=True, input=input, env=e,
                           timeout=timeout)
        check_no_sanitizer_report(p.stderr, "cmctl %s" % " ".join(args))
        if ok:
            check(p.returncode == 0, "cmctl %s: exit %d\nstdout: %s\nstderr: %s"
                  % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def json(self, *args):
        p = self.run("--json", *args)
        return json.loads(p.stdout)

    def bash(self, script, timeout=60):
        e = dict(self.env)
        e["PATH"] = os.path.dirname(CMCTL_BIN) + os.pathsep + e.get("PATH", "")
        p = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], capture_output=True, text=True,
                           env=e, timeout=timeout)
        check_no_sanitizer_report(p.stderr, "bash with cmctl")
        return p

    def session_path(self, profile=None):
        return os.path.join(self.home, "cfg", "cmctl", "session" + ("." + profile if profile else ""))

    def session(self, profile=None):
        with open(self.session_path(profile)) as f:
            return json.load(f)


def tenant_admin(cli, profile):
    """A new tenant and its administrator, made and logged in (under profile) with cmctl alone."""
    cli.run("login", SYSADMIN_EMAIL, "--password", SYSADMIN_PASSWORD)
    tenant = cli.json("tenant", "create", "--title", unique("Acme"))["data"]["id"]["id"]
    email = unique_email("admin")
    admin = cli.json("user", "create", "--email", email, "--authority", "TENANT_ADMIN", "--tenant", tenant,
                     "--first-name", "Ada")["data"]["id"]["id"]
    link = cli.json("user", "activation-link", admin)["data"]["value"]
    act = link.split("activateToken=")[1]
    cli.run("auth", "activate", "--activate-token", act, "--password", TA_PASSWORD)
    cli.run("-p", profile, "login", email, "--password-stdin", input=TA_PASSWORD + "\n")
    return tenant, email


_state = {}


def acme(env):
    if "cli" not in _state:
        cli = Cli(env.port)
        _state["cli"] = cli
        _state["tenant"], _state["email"] = tenant_admin(cli, "acme")
    return _state["cli"]


def test_login_keeps_the_session_in_a_file_only_the_user_reads(env):
    cli = acme(env)
    path = cli.session_path("acme")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    check(mode == 0o600, "session file mode %o, want 600" % mode)
    dmode = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
    check(dmode == 0o700, "session directory mode %o, want 700" % dmode)
    with open(path) as f:
        text = f.read()
    s = json.loads(text)
    check(s["token"].startswith("cma_") and s["refreshToken"].startswith("cmr_"), "no token pair: %s" % text)
    check(TA_PASSWORD not in text, "the password is in the session file")
    check("brokerUsername" not in s, "an open broker (broker_acl none) gave a broker account: %s" % text)
    check(s["email"] == _state["email"], "session e-mail %r" % s["email"])
    p = cli.run("-p", "acme", "session")
    check(_state["email"] in p.stdout and "expired" in p.stdout, "cmctl session: %s" % p.stdout)
    # a second profile is a second file; the default one (the system administrator) is untouched
    check(cli.session()["email"] == SYSADMIN_EMAIL, "default session: %r" % cli.session())


def test_customer_create_list_get_as_tables(env):
    cli = acme(env)
    title = unique("Company")
    p = cli.run("-p", "acme", "customer", "create", "--title", title, "--city", "New York",
                "--email", "example@company.com")
    m = re.search(r"^id\s+([0-9a-f-]{36})$", p.stdout, re.M)
    check(m and re.search(r"^title\s+%s$" % re.escape(title), p.stdout, re.M), "create output:\n%s" % p.stdout)
    cid = m.group(1)
    p = cli.run("-p", "acme", "customer", "list", "--search", title)
    lines = p.stdout.splitlines()
    check(lines and lines[0].split()[:3] == ["ID", "TITLE", "EMAIL"], "table header:\n%s" % p.stdout)
    check(len(lines) == 2 and lines[1].startswith(cid) and title in lines[1] and "New York" in lines[1],
          "table rows:\n%s" % p.stdout)
    p = cli.run("-p", "acme", "customer", "get", cid)
    check(re.search(r"^city\s+New York$", p.stdout, re.M), "get:\n%s" % p.stdout)
    p = cli.run("-p", "acme", "customer", "patch", cid, "--city", "Boston")
    check(re.search(r"^city\s+Boston$", p.stdout, re.M) and re.search(r"^version\s+2$", p.stdout, re.M),
          "patch:\n%s" % p.stdout)
    # devices: create, assign to the customer, list the customer's devices
    dev = cli.json("-p", "acme", "device", "create", "--name", unique("Thermostat"), "--type", "thermostat",
                   "--label", "Kitchen")["data"]["id"]["id"]
    cli.run("-p", "acme", "device", "assign", dev, "--customer", cid)
    p = cli.run("-p", "acme", "customer", "devices", cid)
    check(dev in p.stdout and "Kitchen" in p.stdout, "customer devices:\n%s" % p.stdout)
    p = cli.run("-p", "acme", "customer", "delete", cid)
    check(p.stdout.strip() == "OK", "delete: %r" % p.stdout)


def test_json_output_pipes_into_jq(env):
    cli = acme(env)
    check(shutil.which("jq") is not None, "jq is not installed (scripts/deps installs it)")
    title = unique("Jq Co")
    p = cli.bash('ID=$(cmctl -p acme --json customer create --title "%s" | jq -r .data.id.id)\n'
                 'cmctl -p acme --json customer list --search "%s" | jq -r ".data.data[0].id.id, .data.totalElements"\n'
                 'cmctl -p acme --json customer get "$ID" | jq -r .data.title\n' % (title, title))
    check(p.returncode == 0, "pipeline failed: %s\n%s" % (p.stdout, p.stderr))
    out = p.stdout.splitlines()
    check(len(out) == 3 and re.match(r"^[0-9a-f-]{36}$", out[0]) and out[1] == "1" and out[2] == title,
          "jq output: %r" % p.stdout)
    raw = cli.run("-p", "acme", "--json", "agent", "ping").stdout
    check(raw.count("\n") == 1 and json.loads(raw)["status"] == 200, "--json is one reply a line: %r" % raw)


def test_error_reply_exits_non_zero_with_the_message_on_stderr(env):
    cli = acme(env)
    missing = "01a208c0-9e7d-76cd-92e5-622cfd1d6d89"
    p = cli.run("-p", "acme", "customer", "get", missing, ok=False)
    check(p.returncode == 1, "exit %d, want 1" % p.returncode)
    check(p.stdout == "", "stdout on error: %r" % p.stdout)
    check("customer.get: 404 (errorCode 32): Customer with id [%s] is not found" % missing in p.stderr,
          "stderr: %r" % p.stderr)
    p = cli.run("-p", "acme", "--json", "customer", "create", "--title", "", ok=False)
    check(p.returncode == 1 and "400 (errorCode 31)" in p.stderr and p.stdout == "", "blank title: %r" % (p,))
    p = cli.run("-p", "acme", "tenant", "list", ok=False)
    check(p.returncode == 1 and "403 (errorCode 20)" in p.stderr, "tenant admin lists tenants: %r" % (p,))
    # a usage error is 2, and nothing is sent
    p = cli.run("-p", "acme", "customer", "list", "--colour", "red", ok=False)
    check(p.returncode == 2 and "no option --colour" in p.stderr, "unknown option: %r" % (p,))
    p = cli.run("-p", "nobody", "customer", "list", ok=False)
    check(p.returncode == 2 and "not logged in" in p.stderr, "no session: %r" % (p,))
    # no broker: 3
    p = cli.run("--broker", "tcp://%s:%d" % (HOST, free_port()), "agent", "ping", ok=False)
    check(p.returncode == 3 and "cannot connect" in p.stderr, "no broker: %r" % (p,))
    # a set -e script stops at the failing step instead of carrying an error body on
    p = cli.bash('X=$(cmctl -p acme --json customer get %s | jq -r .data.id.id)\necho "went on with $X"' % missing)
    check(p.returncode != 0 and "went on" not in p.stdout, "the script went on: %r" % (p,))


def test_a_reply_for_many_fails_when_one_of_them_failed(env):
    cli = acme(env)
    title = unique("Batch Co")
    cmds = [{"op": "customer.create", "data": {"title": title}}, {"op": "customer.create", "data": {"title": ""}}]
    p = cli.run("-p", "acme", "batch", "run", "--commands", json.dumps(cmds), ok=False)
    check(p.returncode == 1 and "batch: command 1: 400 (errorCode 31)" in p.stderr, "batch: %r" % (p,))
    check(p.stdout.startswith("committed  true") and "STATUS" in p.stdout, "batch table: %r" % p.stdout)
    cid = cli.json("-p", "acme", "customer", "find-by-title", "--title", title)["data"]["id"]["id"]
    missing = "01a208c0-9e7d-76cd-92e5-622cfd1d6d89"
    p = cli.run("-p", "acme", "customer", "delete", cid, missing, ok=False)
    check(p.returncode == 1 and "customer.delete: id %s: 404 (errorCode 32)" % missing in p.stderr,
          "delete of two ids: %r" % (p,))
    p = cli.run("-p", "acme", "customer", "get", cid, ok=False)
    check(p.returncode == 1 and "404" in p.stderr, "the existing one was deleted: %r" % (p,))


def test_op_name_json_reaches_any_operation(env):
    cli = acme(env)
    title = unique("Op Co")
    cid = cli.json("-p", "acme", "op", "customer.create", json.dumps({"title": title}))["data"]["id"]["id"]
    r = cli.json("-p", "acme", "op", "customer.findByTitle", json.dumps({"title": title}))
    check(r["data"]["id"]["id"] == cid, "findByTitle: %r" % r)
    p = cli.run("-p", "acme", "--json", "op", "customer.title", "-", input=json.dumps({"id": cid}))
    check(json.loads(p.stdout)["data"]["title"] == title, "op with data on stdin: %r" % p.stdout)
    p = cli.run("-p", "acme", "op", "agent.ping")
    check(re.search(r"^version\s+\S+", p.stdout, re.M), "op without data: %r" % p.stdout)
    p = cli.run("-p", "acme", "op", "customer.get", "{not json", ok=False)
    check(p.returncode == 2 and "not valid JSON" in p.stderr, "bad JSON: %r" % (p,))
    p = cli.run("-p", "acme", "op", "customer.fetch", "{}", ok=False)
    check(p.returncode == 1 and "Unknown operation 'customer.fetch'" in p.stderr, "unknown op: %r" % (p,))
    # every operation the agent lists has a command (cmctl GROUP VERB) and is offered by `op` completion
    ops = [o["name"] for o in cli.json("-p", "acme", "agent", "ops")["data"]["ops"]]
    offered = set(cli.run("__complete", "op").stdout.split())
    missing = [o for o in ops if o not in offered]
    check(not missing and len(ops) > 60, "operations without a command: %r" % missing)


def test_token_and_api_key_without_a_session(env):
    cli = acme(env)
    key = cli.json("-p", "acme", "apikey", "create", "--description", "cmctl test")["data"]["key"]
    other = Cli(env.port)  # no session at all
    p = other.run("--token", key, "customer", "list", "--page-size", "1")
    check(p.stdout.startswith("ID "), "customer list with an API key: %r" % p.stdout)
    p = other.run("customer", "list", env={"CMCTL_TOKEN": key})
    check(p.stdout.startswith("ID "), "CMCTL_TOKEN: %r" % p.stdout)


def test_settings_from_flags_environment_and_config_file(env):
    cli = acme(env)
    good = cli.env["CMCTL_BROKER"]
    bad = "tcp://%s:%d" % (HOST, free_port())
    conf = os.path.join(cli.home, "cfg", "cmctl", "config")
    with open(conf, "w") as f:
        f.write("# cmctl test\nbroker %s\ntimeout 20\n" % good)
    no_env = {"CMCTL_BROKER": ""}
    p = cli.run("agent", "ping", env=no_env)  # the default config file
    check("version" in p.stdout, "config file broker: %r" % p.stdout)
    p = cli.run("agent", "ping", env={"CMCTL_BROKER": bad}, ok=False)  # environment over config file
    check(p.returncode == 3, "CMCTL_BROKER beats the config file: %r" % (p,))
    p = cli.run("--broker", good, "agent", "ping", env={"CMCTL_BROKER": bad})  # flag over environment
    other = os.path.join(cli.home, "other.conf")
    with open(other, "w") as f:
        f.write("broker %s\n" % bad)
    p = cli.run("--config", other, "agent", "ping", env=no_env, ok=False)
    check(p.returncode == 3 and bad in p.stderr, "--config: %r" % (p,))
    with open(other, "w") as f:
        f.write("brokr %s\n" % good)
    p = cli.run("agent", "ping", env={"CMCTL_CONFIG": other}, ok=False)
    check(p.returncode == 2 and "unknown key 'brokr'" in p.stderr, "a misspelt key: %r" % (p,))
    os.unlink(conf)


def test_follow_streams_events_and_fills_a_gap_from_replay(env):
    cli = acme(env)
    token = cli.session("acme")["token"]
    titles = [unique("Follow %d" % i) for i in range(3)]
    ids = [cli.json("-p", "acme", "customer", "create", "--title", t)["data"]["id"]["id"] for t in titles]
    events = [e for e in cli.json("-p", "acme", "events", "--after", "0", "--limit", "1000")["data"]["events"]
              if e["originator"]["id"] in ids]
    check(len(events) == 3, "replayed events: %r" % events)
    # a follower started now; it first gets a repeat of the first event, then the third: the second
    # is missing from its stream and must come from event.replay, in order, and repeats are skipped
    proc = subprocess.Popen([CMCTL_BIN, "-p", "acme", "--json", "events", "--follow", "--count", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env)
    try:
        line = proc.stderr.readline()
        if not line:
            proc.wait(10)
            line = "exit %s: %s" % (proc.returncode, proc.stderr.read())
        check("following %s/event/%s/#" % ("cm/v1", _state["tenant"]) in line, "follower: %r" % line)
        topic = "cm/v1/event/%s/CUSTOMER/ENTITY_CREATED" % _state["tenant"]
        for ev in (events[0], events[0], events[2]):
            env.c.publish(topic, json.dumps(ev))
        newest = unique("Follow new")
        cli.run("-p", "acme", "customer", "create", "--title", newest)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_no_sanitizer_report(err, "cmctl events --follow")
    check(proc.returncode == 0, "follower exit %s: %s" % (proc.returncode, err))
    got = [json.loads(ln) for ln in out.splitlines()]
    seqs = [e["seq"] for e in got]
    check(seqs == sorted(seqs) and len(set(seqs)) == 4, "seq order: %r" % seqs)
    names = [e["metadata"]["entityName"] for e in got]
    check(names == titles + [newest], "events: %r" % names)
    del token


def test_help_on_every_level(env):
    cli = acme(env)
    p = cli.run("--help")
    check("customer" in p.stdout and "--broker" in p.stdout and "Exit status" in p.stdout, p.stdout)
    p = cli.run("customer", "--help")
    check("find-by-title" in p.stdout and "customer.findByTitle" in p.stdout, p.stdout)
    p = cli.run("customer", "list", "--help")
    check("--search TEXT" in p.stdout and "textSearch" in p.stdout, p.stdout)
    for args in (["login", "--help"], ["events", "--help"], ["op", "--help"], ["logout", "--help"]):
        p = cli.run(*args)
        check(p.stdout.startswith("usage: cmctl"), "%s: %r" % (args, p.stdout))
    check(cli.run("--version").stdout.startswith("cmctl "), "--version")
    p = cli.run("customer", "frobnicate", ok=False)
    check(p.returncode == 2 and "no command 'frobnicate'" in p.stderr, "unknown verb: %r" % (p,))


def test_bash_completion(env):
    cli = acme(env)

    def complete(line):
        words = line.split(" ")
        script = ('source "%s"\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_cmctl\nprintf "%%s\\n" "${COMPREPLY[@]}"\n'
                  % (COMPLETION, " ".join("'%s'" % w for w in words), len(words) - 1))
        p = cli.bash(script)
        check(p.returncode == 0, "completion script: %s" % p.stderr)
        return p.stdout.split()

    check("customer" in complete("cmctl cu"), "groups")
    check(complete("cmctl customer fi") == ["find-by-title"], "verbs: %r" % complete("cmctl customer fi"))
    check("--search" in complete("cmctl customer list --se"), "flags")
    check("customer.findByTitle" in complete("cmctl op customer.f"), "op names")
    check("--follow" in complete("cmctl events --f"), "events flags")


def test_import_from_a_csv_file_and_stdin(env):
    cli = acme(env)
    t1, t2 = unique("Imported, Ltd."), unique("Piped")
    path = os.path.join(cli.home, "customers.csv")
    with open(path, "w") as f:
        f.write('title,city\n"%s","Kyiv, UA"\n,Lviv\n' % t1)
    p = cli.run("-p", "acme", "--json", "import", "run", "--entity-type", "CUSTOMER", "--csv", path, ok=False)
    r = json.loads(p.stdout)["data"]
    check(r["created"] == 1 and r["failed"] == 1 and [x["row"] for x in r["results"]] == [1, 2], "import: %r" % r)
    check(p.returncode == 1 and "import.run: row 2: 400 (errorCode 31): Customer title should be specified!"
          in p.stderr, "a failed row exits 1 and is named: %r" % (p,))
    p = cli.run("-p", "acme", "import", "run", "--entity-type", "CUSTOMER", "--csv", "-", "--dry-run",
                input="title\n%s\n" % t2)
    check(re.search(r"^created\s+0$", p.stdout, re.M) and re.search(r"^valid\s+1$", p.stdout, re.M),
          "dry run: %r" % p.stdout)
    p = cli.run("-p", "acme", "import", "run", "--entity-type", "CUSTOMER", "--csv", "/nonexistent.csv", ok=False)
    check(p.returncode == 2 and "cannot open '/nonexistent.csv'" in p.stderr, "missing file: %r" % (p,))


def test_logout_revokes_and_removes_the_session(env):
    cli = acme(env)
    email = unique_email("logout")
    tenant = _state["tenant"]
    cli.run("login", SYSADMIN_EMAIL, "--password", SYSADMIN_PASSWORD)
    uid = cli.json("user", "create", "--email", email, "--authority", "TENANT_ADMIN", "--tenant", tenant)["data"]
    act = cli.json("user", "activation-link", uid["id"]["id"])["data"]["value"].split("activateToken=")[1]
    cli.run("auth", "activate", "--activate-token", act, "--password", TA_PASSWORD)
    cli.run("-p", "bye", "login", email, env={"CMCTL_LOGIN_PASSWORD": TA_PASSWORD})
    token = cli.session("bye")["token"]
    cli.run("-p", "bye", "logout")
    check(not os.path.exists(cli.session_path("bye")), "the session file is still there")
    r = env.c.request("customer.list", {"pageSize": 1}, token=token)
    check(r["status"] == 401, "the token still works after logout: %r" % r)


def test_login_with_a_second_factor(env):
    """A user with backup codes: cmctl login without a code fails (no terminal), with --code it
    finishes the login, and the code is spent."""
    cli = acme(env)
    email = unique_email("twofa")
    tenant = _state["tenant"]
    cli.run("login", SYSADMIN_EMAIL, "--password", SYSADMIN_PASSWORD)
    uid = cli.json("user", "create", "--email", email, "--authority", "TENANT_ADMIN", "--tenant", tenant)["data"]
    act = cli.json("user", "activation-link", uid["id"]["id"])["data"]["value"].split("activateToken=")[1]
    cli.run("auth", "activate", "--activate-token", act, "--password", TA_PASSWORD)
    cli.run("-p", "tfa", "login", email, "--password", TA_PASSWORD)
    codes = cli.json("-p", "tfa", "twofa", "generate", "--provider", "BACKUP_CODE")["data"]["codes"]
    got = cli.json("-p", "tfa", "twofa", "get")["data"]
    check(got["configs"]["BACKUP_CODE"]["codesLeft"] == 10, "twofa get", got)
    os.unlink(cli.session_path("tfa"))
    p = subprocess.run(["setsid", CMCTL_BIN, "-p", "tfa", "login", email, "--password", TA_PASSWORD],
                       capture_output=True, text=True, env=cli.env, timeout=60, stdin=subprocess.DEVNULL)
    check(p.returncode != 0 and "second factor" in p.stderr, "login without a code", p.returncode, p.stderr)
    check(not os.path.exists(cli.session_path("tfa")), "a session without the second factor")
    cli.run("-p", "tfa", "login", email, "--password", TA_PASSWORD, "--code", codes[0])
    token = cli.session("tfa")["token"]
    check(token.startswith("cma_"), "session token", token)
    p = cli.run("-p", "tfa", "login", email, "--password", TA_PASSWORD, "--code", codes[0], ok=False)
    check(p.returncode != 0 and "Verification code is incorrect" in p.stderr, "spent code", p.stderr)


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, with the openssl CLI."""
    def ossl(*args):
        p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, cwd=d, timeout=60)
        check(p.returncode == 0, "openssl %s: %s" % (" ".join(args), p.stderr))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cmctl test CA")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        ossl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        ossl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", name + ".pem", "-days", "2", *ext)
    os.chmod(d, 0o755)  # mosquitto started as root reads them as the user mosquitto
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)


def test_tls_broker_with_client_certificate(_env):
    """cmctl on an ssl:// listener that requires a client certificate (the agent on the plain one):
    the CA, certificate and key from flags, from CMCTL_* and from the config file; without the CA
    the broker's certificate is refused."""
    certs = tempfile.mkdtemp(prefix="cmctl-tls-")
    make_certs(certs)
    tls_port = free_port()
    lines = ["listener %d %s" % (tls_port, HOST), "cafile %s/ca.pem" % certs, "certfile %s/server.pem" % certs,
             "keyfile %s/server.key" % certs, "require_certificate true"]
    try:
        with Broker(extra_lines=lines) as b, Agent(b.port):
            cli = Cli(b.port)
            uri = "ssl://%s:%d" % (HOST, tls_port)
            files = ["--cafile", certs + "/ca.pem", "--certfile", certs + "/client.pem",
                     "--keyfile", certs + "/client.key"]
            p = cli.run("--broker", uri, *files, "agent", "ping")
            check(re.search(r"^version\s+\S+", p.stdout, re.M), "ping over TLS: %r" % p.stdout)
            p = cli.run("agent", "ping", env={"CMCTL_BROKER": uri, "CMCTL_CAFILE": certs + "/ca.pem",
                                              "CMCTL_CERTFILE": certs + "/client.pem",
                                              "CMCTL_KEYFILE": certs + "/client.key"})
            conf = os.path.join(cli.home, "tls.conf")
            with open(conf, "w") as f:
                f.write("broker %s\ncafile %s/ca.pem\ncertfile %s/client.pem\nkeyfile %s/client.key\n"
                        % (uri, certs, certs, certs))
            p = cli.run("--config", conf, "agent", "ping", env={"CMCTL_BROKER": ""})
            p = cli.run("--broker", uri, "--certfile", certs + "/client.pem", "--keyfile", certs + "/client.key",
                        "agent", "ping", ok=False)
            check(p.returncode == 3 and "cannot connect" in p.stderr, "TLS without the CA: %r" % (p,))
            p = cli.run("--broker", uri, "--cafile", certs + "/ca.pem", "agent", "ping", ok=False)
            check(p.returncode == 3, "TLS without a client certificate: %r" % (p,))
    finally:
        shutil.rmtree(certs, ignore_errors=True)


def test_broker_credentials_from_flags_environment_and_config_file(_env):
    """A broker that refuses anonymous clients: the broker's user name and password reach cmctl
    from flags, CMCTL_BROKER_USERNAME/PASSWORD and the config file (which it wants kept private)."""
    d = tempfile.mkdtemp(prefix="cmctl-auth-")
    pwfile = os.path.join(d, "passwd")
    agent = None
    try:
        for user, pw in (("agent", "agent-pw-1"), ("operator", "operator-pw-1")):
            p = subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if user == "agent" else []) + [pwfile, user, pw],
                               capture_output=True, text=True, timeout=30)
            check(p.returncode == 0, "mosquitto_passwd: %s" % p.stderr)
        os.chmod(d, 0o755)
        os.chmod(pwfile, 0o644)  # mosquitto started as root reads it as the user mosquitto
        with Broker(extra_lines=["allow_anonymous false", "password_file %s" % pwfile]) as b:
            agent = Agent(b.port, extra={"username": "agent", "password": "agent-pw-1"}).start(wait=False)
            cli = Cli(b.port)
            auth = ["--broker-username", "operator", "--broker-password", "operator-pw-1"]
            deadline = time.monotonic() + 60  # the harness waits anonymously; cmctl waits here
            while cli.run(*auth, "--timeout", "2", "agent", "ping", ok=False).returncode != 0:
                check(agent.running() and time.monotonic() < deadline, "the agent does not answer")
                time.sleep(0.2)
            p = cli.run("agent", "ping", ok=False)
            check(p.returncode == 3 and "cannot connect" in p.stderr, "anonymous: %r" % (p,))
            p = cli.run("--broker-username", "operator", "--broker-password", "operator-pw-1", "agent", "ping")
            check(re.search(r"^version\s+\S+", p.stdout, re.M), "flags: %r" % p.stdout)
            cli.run("agent", "ping", env={"CMCTL_BROKER_USERNAME": "operator", "CMCTL_BROKER_PASSWORD": "operator-pw-1"})
            p = cli.run("--broker-username", "operator", "--broker-password", "wrong", "agent", "ping", ok=False)
            check(p.returncode == 3, "a wrong password: %r" % (p,))
            conf = os.path.join(cli.home, "broker.conf")
            with open(conf, "w") as f:
                f.write("broker_username operator\nbroker_password operator-pw-1\n")
            os.chmod(conf, 0o644)
            p = cli.run("--config", conf, "agent", "ping")
            check("others may read it" in p.stderr, "no warning for a readable password file: %r" % p.stderr)
            os.chmod(conf, 0o600)
            p = cli.run("--config", conf, "agent", "ping")
            check(p.stderr == "", "a warning for a private config file: %r" % p.stderr)
            agent.stop()
            agent = None
    finally:
        if agent is not None:
            agent.stop(check=False)
        shutil.rmtree(d, ignore_errors=True)


def test_refresh_when_the_token_expired(_env):
    """An agent whose access tokens live 60 s (the least access_token_ttl): cmctl refreshes before
    the expiry the session file knows, and on the agent's 401 "Token has expired" when that expiry
    is wrong."""
    with Env(agent_extra={"access_token_ttl": "60"}, listen_events=False) as e:
        cli = Cli(e.port)
        cli.run("login", SYSADMIN_EMAIL, "--password", SYSADMIN_PASSWORD)
        logged_in = time.monotonic()
        first = cli.session()
        check(abs(first["expiresAt"] - (time.time() * 1000 + 60000)) < 15000, "expiresAt: %r" % first)
        # the file says it expired: refreshed before the request
        first["expiresAt"] = int(time.time() * 1000) - 1
        with open(cli.session_path(), "w") as f:
            json.dump(first, f)
        cli.run("tenant", "list")
        second = cli.session()
        check(second["token"] != first["token"] and second["refreshToken"] != first["refreshToken"],
              "not refreshed before the known expiry")
        mode = stat.S_IMODE(os.stat(cli.session_path()).st_mode)
        check(mode == 0o600, "refreshed session file mode %o" % mode)
        r = e.c.request("tenant.list", {"pageSize": 1}, token=first["token"])
        check(r["status"] == 401, "the old token still works after the refresh: %r" % r)
        # the session claims a day more, but the token expired: the agent answers 401/11 and
        # cmctl refreshes then
        second["expiresAt"] = int(time.time() * 1000) + 86400000
        with open(cli.session_path(), "w") as f:
            json.dump(second, f)
        time.sleep(max(0.0, 61.5 - (time.monotonic() - logged_in)))
        r = e.c.request("tenant.list", {"pageSize": 1}, token=second["token"])
        check(r["status"] == 401 and r.get("errorCode") == 11, "the token has not expired: %r" % r)
        p = cli.run("tenant", "list")
        check(p.stdout.strip() == "(none)", "tenant list after refresh: %r" % p.stdout)
        third = cli.session()
        check(third["token"] != second["token"], "not refreshed on 401")
        # a refresh token that no longer works: a clear message, exit 1
        third["expiresAt"] = 1
        third["refreshToken"] = "cmr_revoked"
        with open(cli.session_path(), "w") as f:
            json.dump(third, f)
        p = cli.run("tenant", "list", ok=False)
        check(p.returncode == 1 and "log in again" in p.stderr, "a dead refresh token: %r" % (p,))


def test_dynsec_broker_account_from_login(_env):
    """The broker scripts/run starts: mosquitto with the dynamic-security plugin, provisioned by the
    agent. Anonymous cmctl may only log in (replies on anon/<nonce>); login takes the user's broker
    account into the session file and every later command connects with it."""
    with Broker(dynsec=True) as b, Agent(b.port, extra=DYNSEC_AGENT_SETTINGS):
        cli = Cli(b.port)
        p = cli.run("agent", "ping")  # no session: anonymous, its reply on cm/v1/reply/anon/<nonce>
        check(re.search(r"^version\s+\S+", p.stdout, re.M), "anonymous ping: %r" % p.stdout)
        p = cli.run("--timeout", "3", "tenant", "list", "--token", "cma_not-a-token", ok=False)
        check(p.returncode == 3 and "no reply" in p.stderr, "an anonymous tenant.list got through: %r" % (p,))
        out = cli.json("login", SYSADMIN_EMAIL, "--password", SYSADMIN_PASSWORD)["data"]
        s = cli.session()
        check(re.match(r"^cm-u-[0-9a-f-]{36}$", s.get("brokerUsername", "")) and len(s.get("brokerPassword", "")) >= 16,
              "no broker account in the session: %r" % s)
        check(out.get("brokerUsername") == s["brokerUsername"] and "brokerPassword" not in out, "login --json: %r" % out)
        check(stat.S_IMODE(os.stat(cli.session_path()).st_mode) == 0o600, "session file mode")
        p = cli.run("session")
        check(s["brokerUsername"] in p.stdout and s["brokerPassword"] not in p.stdout, "cmctl session: %r" % p.stdout)
        with MqttSession(b.port, username=s["brokerUsername"], password=s["brokerPassword"]) as m:
            m.close()  # the account the session holds is the broker's
        tenant, email = tenant_admin(cli, "acme")
        ta = cli.session("acme")
        check(ta["brokerUsername"] not in ("", s["brokerUsername"]), "the tenant administrator's account: %r" % ta)
        cust = cli.json("-p", "acme", "customer", "create", "--title", "Company A")["data"]["id"]["id"]
        p = cli.run("-p", "acme", "customer", "list")
        check(cust in p.stdout, "customer list: %r" % p.stdout)
        # its account may read its tenant's events: --follow gets the next one
        proc = subprocess.Popen([CMCTL_BIN, "-p", "acme", "--json", "events", "--follow", "--count", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env)
        try:
            line = proc.stderr.readline()
            check("following cm/v1/event/%s/#" % tenant in line, "follower: %r" % line)
            cli.run("-p", "acme", "customer", "patch", cust, "--city", "Boston")
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        check_no_sanitizer_report(err, "cmctl events --follow")
        check(proc.returncode == 0 and json.loads(out)["originator"]["id"] == cust, "follow: %r %r" % (out, err))
        # the same user logs in with a second profile: a new password, the first profile's is dead;
        # its next command renews it with broker.credentials
        cli.run("-p", "acme2", "login", email, "--password", TA_PASSWORD)
        check(cli.session("acme2")["brokerUsername"] == ta["brokerUsername"], "the second profile's account")
        p = cli.run("-p", "acme", "customer", "get", cust)
        check(re.search(r"^title\s+Company A$", p.stdout, re.M), "after the re-issue: %r" % p.stdout)
        check(cli.session("acme")["brokerPassword"] != ta["brokerPassword"], "the dead password was not renewed")
        # broker credentials of the flags win over the session's
        p = cli.run("-p", "acme", "--broker-username", ta["brokerUsername"], "--broker-password", "wrong-1",
                    "customer", "get", cust, ok=False)
        check(p.returncode == 3 and "cannot connect" in p.stderr, "flags over the session: %r" % (p,))
        acme = cli.session("acme")
        p = cli.run("--timeout", "3", "--broker-username", acme["brokerUsername"], "--broker-password",
                    acme["brokerPassword"], "tenant", "list", ok=False)
        check(p.returncode == 3 and "no reply" in p.stderr,
              "the system administrator's token answered on the tenant administrator's account: %r" % (p,))
        # a login with the flags' account takes none of its own
        cli.run("-p", "flags", "--broker-username", acme["brokerUsername"], "--broker-password", acme["brokerPassword"],
                "login", email, "--password", TA_PASSWORD)
        check("brokerUsername" not in cli.session("flags"), "a login with the flags' account: %r" % cli.session("flags"))
        cli.run("-p", "acme", "logout")
        cli.run("tenant", "delete", tenant)


if __name__ == "__main__":
    check(os.path.exists(CMCTL_BIN), "cmctl not found at %s (set CMCTL_BIN or run scripts/build)" % CMCTL_BIN)
    run_tests(globals(), Env)
