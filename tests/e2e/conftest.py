"""Shared fixtures for the end-to-end tests: real binaries, loopback only.

Each test gets its own temp dir and free ports; every process started here
is killed at the end, and its log is printed when the test fails.
"""
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
import urllib.error

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("THRESHOLD_BIN", os.path.join(ROOT, "build", "threshold"))
# The ASan+UBSan build: slower, and its RSS says little about leaks.
SANITIZED = os.sep + "asan" + os.sep in BIN


def fd_count(pid):
    """Open file descriptors of a process (Linux /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value; bounded in time."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ValueError) as e:  # not up yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Proc:
    def __init__(self, name, args, cwd, env=None):
        self.name = name
        self.log_path = os.path.join(cwd, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen(args, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env)

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        """SIGKILL, as a crash would; the exit status is not checked."""
        self.killed = True
        self.p.kill()
        self.p.wait(10)

    def stop(self, sig=15, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.log.close()
        return self.p.returncode


class Harness:
    def __init__(self, tmp):
        self.tmp = str(tmp)
        self.procs = []
        # (ca, cert, key): management calls go over HTTPS with this
        # client certificate (UseTls servers).
        self.tls = None

    def spawn(self, name, args, env=None):
        p = Proc(name, args, self.tmp, env)
        p.threshold = args[0] == BIN
        self.procs.append(p)
        return p

    def write_json(self, name, obj):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)
        return path

    def server(self, extra=None, single_port=False, wait=True):
        cfg = {"DebugLog": False}
        if single_port:
            port = free_port()
            cfg["ListenPort"] = port
            self.control_port = self.mgmt_port = port
        else:
            self.control_port, self.mgmt_port = free_port(), free_port()
            cfg["TunnelControlPort"] = self.control_port
            cfg["ManagementPort"] = self.mgmt_port
        cfg.update(extra or {})
        path = self.write_json("server-config.json", cfg)
        p = self.spawn("server", [BIN, "server", "-c", path])
        if wait:
            wait_for(lambda: self.http("GET", "/ping")[0] == 200, what="server /ping")
        return p

    def client(self, client_id, services, extra=None, name="client", server_port=None):
        cfg = {"DebugLog": False, "ClientIdentifier": client_id,
               "ServerHost": "127.0.0.1", "ServerTunnelControlPort": server_port or self.control_port,
               "ServerManagementPort": self.mgmt_port, "UseTls": False,
               "ServiceToLocalAddrMap": services}
        cfg.update(extra or {})
        path = self.write_json(f"{name}-config.json", cfg)
        return self.spawn(name, [BIN, "client", "-c", path])

    def http(self, method, path, body=None, headers=None, port=None):
        ctx = None
        if self.tls:
            ca, cert, key = self.tls
            ctx = ssl.create_default_context(cafile=ca)
            ctx.load_cert_chain(cert, key)
        url = f"{'https' if ctx else 'http'}://127.0.0.1:{port or self.mgmt_port}{path}"
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                return r.status, r.read().decode("utf-8", "replace"), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace"), dict(e.headers)

    def put_tunnels(self, tunnels):
        body = tunnels if isinstance(tunnels, (str, bytes)) else json.dumps(tunnels)
        return self.http("PUT", "/tunnels", body, {"Content-Type": "application/json"})

    def clients(self):
        st, body, _ = self.http("GET", "/clients")
        assert st == 200, body
        return json.loads(body)

    def wait_connected(self, client_id, timeout=15):
        return wait_for(lambda: self.clients().get(client_id, {}).get("CurrentState") == "ClientConnected",
                        timeout=timeout, what=f"{client_id} connected")

    def close(self):
        """Stops everything; threshold processes must exit 0 on SIGTERM and,
        in the sanitizer build, report no error or leak."""
        problems = []
        for p in reversed(self.procs):
            killed = getattr(p, "killed", False)
            rc = p.stop()
            if p.threshold and not killed:
                text = p.text()
                if rc != 0:
                    problems.append(f"{p.name} exited {rc}")
                if "Sanitizer" in text or "runtime error:" in text:
                    problems.append(f"{p.name}: sanitizer report")
        return problems


@pytest.fixture
def h(tmp_path, request):
    harness = Harness(tmp_path)
    yield harness
    problems = harness.close()
    rep = getattr(request.node, "rep_call", None)
    if problems or (rep is not None and rep.failed):
        for p in harness.procs:
            print(f"----- {p.name} log -----")
            print(p.text()[-20000:])
    assert not problems, problems


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
