"""pg_helpers.py: a throwaway PostgreSQL cluster for the integration tests (helpers.py uses it).

With CMAGENT_TEST_DATABASE=postgres in the environment, every Agent of a test file gets a fresh
database (postgresql:// URI as its database setting) in one cluster that the file starts on a free
127.0.0.1 port, in a temporary directory, on first use. The cluster stops by itself: at the test
file's exit, and, should the file be killed, through a watcher process that stops it (immediate
mode) and removes its directory once the file's process is gone. initdb and pg_ctl refuse to run
as root: as root they run as the postgres user (runuser), otherwise as the current user.
"""

import atexit
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading

HOST = "127.0.0.1"


def wanted():
    """Whether the tests run against PostgreSQL (CMAGENT_TEST_DATABASE=postgres)."""
    return os.environ.get("CMAGENT_TEST_DATABASE", "").lower() in ("postgres", "postgresql", "pg")


def _bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise AssertionError("PostgreSQL's server is not installed (scripts/deps installs postgresql-15)")
    return os.path.dirname(found[-1])


def _free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL cluster in a temporary directory, on a free loopback port."""

    def __init__(self):
        self.bin = _bindir()
        self.as_postgres = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="cmagent-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.user = "postgres" if self.as_postgres else os.environ.get("USER", "postgres")
        self.next_db = 0
        self.lock = threading.Lock()
        self.started = False

    def _run(self, *argv, check=True):
        cmd = list(argv)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=check,
                              cwd=self.dir)

    def start(self):
        if self.as_postgres:
            os.chmod(self.dir, 0o777)
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-A", "trust", "-U", self.user,
                  "-E", "UTF8", "--no-sync", "--locale=C.UTF-8")
        self.start_server()
        self.started = True
        atexit.register(self.stop)
        self._watch()
        return self

    def start_server(self):
        """Starts the server of the initialized cluster (again, after stop_server) and waits for it."""
        opts = ("-c listen_addresses=%s -p %d -k %s -c fsync=off -c max_connections=200"
                " -c shared_buffers=32MB" % (HOST, self.port, self.dir))
        r = self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-o", opts, "-l",
                      os.path.join(self.dir, "server.log"), "-w", "-t", "60", "start", check=False)
        if r.returncode != 0:
            raise AssertionError("PostgreSQL did not start: %s\n%s" % (r.stdout, self._log_tail()))

    def stop_server(self, mode="fast"):
        """Stops the server and leaves the cluster in place (pg_ctl stop -m fast|immediate|smart):
        a test of what the agent does while its database is down."""
        r = self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "60", "stop",
                      check=False)
        if r.returncode != 0:
            raise AssertionError("PostgreSQL did not stop: %s\n%s" % (r.stdout, self._log_tail()))

    def _watch(self):
        """A process that stops the cluster once this one is gone, however it ended."""
        stop = [os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop"]
        if self.as_postgres:
            stop = ["runuser", "-u", "postgres", "--"] + stop
        script = ("while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %s"
                  % (os.getpid(), shlex.join(stop), shlex.quote(self.dir)))
        subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)

    def _log_tail(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def uri(self, dbname):
        return "postgresql://%s@%s:%d/%s" % (self.user, HOST, self.port, dbname)

    def create_database(self):
        """A new, empty database; returns its URI."""
        with self.lock:
            self.next_db += 1
            name = "cm_%d" % self.next_db
        self._run(os.path.join(self.bin, "psql"), "-h", HOST, "-p", str(self.port), "-U", self.user, "-d",
                  "postgres", "-q", "-c", "CREATE DATABASE %s" % name)
        return self.uri(name)

    def stop(self):
        if not self.started:
            return
        self.started = False
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


_cluster = None
_cluster_lock = threading.Lock()
_by_workdir = {}


def cluster():
    """The test file's cluster, started on first use."""
    global _cluster
    with _cluster_lock:
        if _cluster is None:
            _cluster = Cluster().start()
        return _cluster


def database_for(workdir):
    """The URI of the database of an agent's work directory: a fresh one the first time, the same
    one for an agent started again in the same directory."""
    with _cluster_lock:
        known = _by_workdir.get(workdir)
    if known is not None:
        return known
    uri = cluster().create_database()
    with _cluster_lock:
        _by_workdir[workdir] = uri
    return uri


class _PgConnection:
    """The part of sqlite3's connection the tests use (execute, executemany, `with con:` as a
    transaction, close), on a PostgreSQL database, with sqlite3's ? placeholders."""

    def __init__(self, uri, readonly):
        import psycopg2  # only the PostgreSQL runs need it (scripts/deps installs python3-psycopg2)
        import psycopg2.extras
        self._extras = psycopg2.extras
        self.con = psycopg2.connect(uri)
        self.con.set_session(readonly=readonly)

    @staticmethod
    def _sql(sql):
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql, params=()):
        cur = self.con.cursor()
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def executemany(self, sql, rows):
        cur = self.con.cursor()
        self._extras.execute_batch(cur, self._sql(sql), list(rows), page_size=1000)
        return cur

    def commit(self):
        self.con.commit()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.con.commit()
        else:
            self.con.rollback()
        return False

    def close(self):
        self.con.close()


def db_connect(db, readonly=False, timeout=30):
    """A connection to an agent's database (Agent.db): sqlite3's for a file, a look-alike for a
    postgresql:// URI, so that a test that reads or fills the tables runs on both engines."""
    if db.startswith("postgresql://"):
        return _PgConnection(db, readonly)
    import sqlite3
    if readonly:
        return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=timeout)
    return sqlite3.connect(db, timeout=timeout)
