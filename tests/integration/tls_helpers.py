"""tls_helpers.py: certificates made at test time with the openssl command line, and a mosquitto
with TLS listeners next to its plain one (test clients keep using the plain listener; the agent
connects over TLS).

Pki(dir) makes, in a directory mosquitto can read after it drops root (mode 755, files 644):
  ca.crt / ca.key              the test CA
  other-ca.crt                 a second, unrelated CA
  server.crt / server.key      signed by the CA, for localhost and 127.0.0.1
  expired.crt / expired.key    signed by the CA, for localhost and 127.0.0.1, expired yesterday
  wrongname.crt / wrongname.key signed by the CA, for elsewhere.example only
  client.crt / client.key      signed by the CA, the key encrypted with Pki.CLIENT_KEY_PASSWORD
"""

import os
import shutil
import subprocess
import tempfile

from helpers import HOST, Broker, free_port, port_open, wait_until

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def _openssl(args, cwd):
    r = subprocess.run([OPENSSL] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))


class Pki:
    CLIENT_KEY_PASSWORD = "client-key-secret"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cmagent-pki-")
        os.chmod(self.dir, 0o755)
        self._ca("ca", "cmagent test CA")
        self._ca("other-ca", "unrelated test CA")
        self._leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1", days=2)
        self._leaf("expired", "localhost", "DNS:localhost,IP:127.0.0.1", days=-1)
        self._leaf("wrongname", "elsewhere.example", "DNS:elsewhere.example", days=2)
        self._leaf("client", "cmagent", None, days=2, password=self.CLIENT_KEY_PASSWORD)
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name, password=None):
        args = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key"]
        if password is not None:
            args += ["-aes256", "-pass", "pass:" + password]
        _openssl(args, self.dir)

    def _ca(self, name, cn):
        self._key(name)
        _openssl(["req", "-x509", "-new", "-key", name + ".key", "-out", name + ".crt", "-days", "2", "-subj",
                  "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"], self.dir)

    def _leaf(self, name, cn, san, days, password=None):
        self._key(name, password)
        req = ["req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn]
        if password is not None:
            req += ["-passin", "pass:" + password]
        _openssl(req, self.dir)
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            if san:
                f.write("subjectAltName=%s\n" % san)
        # a negative -days makes a certificate whose end lies in the past
        _openssl(["x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                  "-out", name + ".crt", "-days", str(days), "-extfile", name + ".ext"], self.dir)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class TlsBroker(Broker):
    """A Broker (plain listener on .port for the test clients) with one TLS listener per entry of
    listeners, a dict name -> (certificate name in pki, require_certificate); .tls_port[name]."""

    def __init__(self, pki, listeners, port=None, tls_ports=None):
        self.tls_port = dict(tls_ports or {})
        lines = []
        for name, (cert, require_cert) in listeners.items():
            p = self.tls_port.setdefault(name, free_port())
            lines += ["listener %d %s" % (p, HOST),
                      "cafile %s" % pki.path("ca.crt"),
                      "certfile %s" % pki.path(cert + ".crt"),
                      "keyfile %s" % pki.path(cert + ".key"),
                      "require_certificate %s" % ("true" if require_cert else "false")]
        super().__init__(port=port, extra_lines=lines)

    def uri(self, name, host=HOST):
        return "ssl://%s:%d" % (host, self.tls_port[name])

    def start(self):
        super().start()
        for name, p in self.tls_port.items():
            wait_until(lambda: port_open(p), timeout=15, what="mosquitto's TLS listener %s on %d" % (name, p))
        return self
