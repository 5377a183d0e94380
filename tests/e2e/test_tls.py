"""TLS end to end: client certificates, identity from the certificate, the
refused cases with their logged reasons, resource bounds of the handshake,
management with curl as a user would, our client's checks of the server,
and the Go protocol emulator over TLS in both directions.

Certificates are made per test in its temp dir: pki.py (openssl CLI) for
the original's fixture shapes, `threshold certs` for the one-step set."""
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

from backends import Backend, drain_until_closed, echo, read_proxy_line, recv_all
from conftest import BIN, ROOT, SANITIZED, fd_count, free_port, rss_kib, wait_for
from pki import Pki, original_fixtures

PEER = os.path.join(ROOT, "build", "interop", "threshold_peer")


# ---- helpers ----

def curl(*args, check=True):
    r = subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, f"curl {args}: rc={r.returncode} {r.stderr}"
    return r


def curl_mgmt(cert, path, *extra, port, ca, check=True, status=True):
    """curl --cacert/--cert/--key as a user would; returns (status, body)."""
    args = ["--cacert", ca.chain if hasattr(ca, "chain") else ca]
    if cert is not None:
        args += ["--cert", cert[0], "--key", cert[1]]
    args += ["-w", "\n%{http_code}", *extra, f"https://localhost:{port}{path}"]
    r = curl(*args, check=check)
    if r.returncode != 0:
        return None, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def spawn_client(h, cfg, name="client"):
    base = {"DebugLog": False, "ConnectTimeoutSeconds": 5, "DialTimeoutSeconds": 5}
    base.update(cfg)
    path = h.write_json(f"{name}-config.json", base)
    return h.spawn(name, [BIN, "client", "-c", path])


def tls_client_cfg(client_id, cert, ca, port, services, layout="later", host="localhost"):
    cfg = {"ClientIdentifier": client_id, "UseTls": True, "ClientTlsKeyFile": cert.key,
           "ClientTlsCertificateFile": cert.chain, "ServiceToLocalAddrMap": services}
    if layout == "2020":
        cfg.update({"ServerHost": host, "ServerTunnelControlPort": port, "CaCertificateFile": ca})
    else:
        cfg.update({"ServerAddr": f"{host}:{port}", "CaCertificateFilesGlob": ca})
    return cfg


def tunnel(port, service, client="TestClient1", proxy=False):
    return {"HaProxyProxyProtocol": proxy, "ListenAddress": "127.0.0.1", "ListenHostnameGlob": "*",
            "ListenPort": port, "BackEndService": service, "ClientIdentifier": client}


def asd_listener(seen):
    """The usage example's listener: PROXY line, then answer "asd"."""
    def handler(c):
        seen["line"] = read_proxy_line(c)
        seen["data"] = c.recv(4096)
        c.sendall(b"asd")
    return handler


def send_hello(port):
    with socket.create_connection(("localhost", port), timeout=10) as s:
        s.sendall(b"Hello ! Hello! \n")
        out = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            out += d
        return s.getsockname()[1], out


def bulk(port, n, size):
    """n concurrent visitors each echo `size` random bytes; all must match."""
    errors = []

    def one(i):
        data = os.urandom(size)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
                t.start()
                got = recv_all(s)
                t.join()
            if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
                errors.append(f"visitor {i}: {len(got)} bytes back of {size}")
        except OSError as e:
            errors.append(f"visitor {i}: {e}")

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors


def log_has(proc, pattern, timeout=10):
    return wait_for(lambda: re.search(pattern, proc.text(), re.M), timeout=timeout,
                    what=f"log /{pattern}/ in {proc.name}")


def client_hello(server_name="localhost"):
    """A real ClientHello from Python's TLS stack (no certificate offered)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def settled_fds(pid):
    """The fd count once it has not changed for half a second (bounded)."""
    last, same = fd_count(pid), 0
    for _ in range(100):
        time.sleep(0.1)
        n = fd_count(pid)
        same = same + 1 if n == last else 0
        last = n
        if same >= 5:
            break
    return last


def wait_fds(pid, want, timeout=20):
    return wait_for(lambda: fd_count(pid) <= want, timeout=timeout, interval=0.1,
                    what=f"fd count of {pid} back to {want} (now {fd_count(pid)})")


@pytest.fixture
def fx(h):
    """The original's fixture shapes (root -> intermediate -> leaves)."""
    p, root, inter, server, client = original_fixtures(os.path.join(h.tmp, "pki"))
    return {"pki": p, "root": root, "inter": inter, "server": server, "client": client}


def start_tls_server(h, fx, layout="later", extra=None, mgmt_cert=None, wait=True):
    root, server = fx["root"], fx["server"]
    cfg = {"UseTls": True, "ServerTlsKeyFile": server.key, "ServerTlsCertificateFile": server.chain}
    if layout == "2020":
        cfg["CaCertificateFile"] = root.chain
    else:
        cfg["Domain"] = "example.com"
        cfg["CaCertificateFilesGlob"] = os.path.join(fx["pki"].dir, "InternalCA+ch*.crt")
    cfg.update(extra or {})
    c = mgmt_cert or fx["client"]
    h.tls = (root.chain, c.chain, c.key)
    srv = h.server(extra=cfg, single_port=(layout != "2020"), wait=wait)
    if not wait:
        log_has(srv, r"listening for clients")
    return srv


def start_real_client(h, fx, layout="later", services=None, name="client"):
    return spawn_client(h, tls_client_cfg("TestClient1", fx["client"], fx["root"].chain if layout == "2020"
                                          else os.path.join(fx["pki"].dir, "InternalCA+ch*.crt"),
                                          h.control_port, services or {}, layout), name=name)


# ---- the usage example over TLS ----

@pytest.mark.parametrize("layout", ["2020", "later"])
def test_usage_example_over_tls(h, fx, layout):
    """The original's usage example with its fixture shapes, both config
    generations, management with curl and the client's certificate (no
    ManagementClientIds: any CA-signed certificate, as the original)."""
    seen = {}
    srv = start_tls_server(h, fx, layout)
    log_has(srv, r"ManagementClientIds is not set")
    be = Backend(asd_listener(seen))
    eb = Backend(echo)
    cl = start_real_client(h, fx, layout, {"fooService": f"127.0.0.1:{be.port}", "echo": f"127.0.0.1:{eb.port}"})
    h.wait_connected("TestClient1")

    cert = (fx["client"].chain, fx["client"].key)
    st, body = curl_mgmt(cert, "/clients", port=h.mgmt_port, ca=fx["root"])
    assert st == 200, body
    state = json.loads(body)["TestClient1"]
    assert state["CurrentState"] == "ClientConnected" and state["LastState"] == "ClientUnknown"
    assert state["Tls"]["Version"] in ("TLSv1.2", "TLSv1.3")
    assert state["Tls"]["KtlsSend"] in (True, False) and state["Tls"]["KtlsRecv"] in (True, False)

    public, public2 = free_port(), free_port()
    tunnels = [tunnel(public, "fooService", proxy=True), tunnel(public2, "echo")]
    path = h.write_json("tunnels.json", tunnels)
    st, body = curl_mgmt(cert, "/tunnels", "-X", "PUT", "-H", "Content-Type: application/json", "-d", f"@{path}",
                         port=h.mgmt_port, ca=fx["root"])
    assert st == 200, body
    assert json.loads(body) == tunnels

    sport, answer = send_hello(public)
    assert answer == b"asd"
    assert seen["line"] == f"PROXY TCP4 127.0.0.1 127.0.0.1 {sport} {public}\r\n".encode()
    assert seen["data"] == b"Hello ! Hello! \n"

    # Bulk both ways through the TLS session (writes that block half way).
    bulk(public2, 8, 1 << 20)

    log_has(srv, r"client TestClient1 connected from 127\.0\.0\.1:\d+ \(features:.*; TLSv1\.[23], "
                 r"kTLS send: (yes|no), receive: (yes|no)\)")
    log_has(cl, r"TLSv1\.[23] with localhost:\d+ \(127\.0\.0\.1:\d+\): server certificate \"localhost\" verified "
                r"for \"localhost\"; kTLS send: (yes|no), receive: (yes|no)")


# ---- refused: the server's side ----

def test_refused_without_client_certificate(h, fx):
    srv = start_tls_server(h, fx)
    ctx = ssl.create_default_context(cafile=fx["root"].chain)
    with socket.create_connection(("127.0.0.1", h.control_port), timeout=10) as raw:
        port = raw.getsockname()[1]
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"CONNECT /_controlPath/ HTTP/1.1\r\nX-Threshold-ClientId: TestClient1\r\n\r\n")
                assert s.recv(100) == b""
        except (ssl.SSLError, OSError):
            pass
    log_has(srv, rf"control connection from 127\.0\.0\.1:{port}: TLS handshake failed: "
                 r"peer did not return a certificate")
    # curl without --cert, on the management API.
    st, err = curl_mgmt(None, "/clients", port=h.mgmt_port, ca=fx["root"], check=False)
    assert st is None, err
    assert h.clients() == {}


@pytest.mark.parametrize("case", ["other-ca", "expired", "wrong-purpose"])
def test_refused_client_certificates(h, fx, case):
    """Our client with a bad certificate: the server logs the reason and the
    peer; our client logs the server's refusal; no client state appears."""
    inter = fx["inter"]
    p = fx["pki"]
    if case == "other-ca":
        other = Pki(os.path.join(h.tmp, "other"))
        oroot = other.root("OtherCA", "/CN=OtherCA", kind="ec")
        cert = other.leaf("TestClient1@example.com", "TestClient1@example.com", oroot, kind="ec")
        server_why = r"(unable to get local issuer certificate|self-signed certificate in certificate chain)"
        client_why = r"unknown ca"
    elif case == "expired":
        cert = p.leaf("expired", "TestClient1@example.com", inter, kind="ec", expired=True)
        server_why = r"certificate has expired"
        client_why = r"certificate expired"
    else:
        cert = p.leaf("server-only", "TestClient1@example.com", inter, kind="ec", eku="serverAuth")
        server_why = r"unsuitable certificate purpose"
        client_why = r"unsupported certificate"
    srv = start_tls_server(h, fx)
    cl = spawn_client(h, tls_client_cfg("TestClient1", cert, os.path.join(p.dir, "InternalCA+ch*.crt"),
                                        h.control_port, {}))
    log_has(srv, r"control connection from 127\.0\.0\.1:\d+: TLS handshake failed: " + server_why)
    log_has(cl, r"connecting to localhost:\d+ failed: TLS with localhost \(127\.0\.0\.1:\d+\): the server refused "
                r"the session: .*" + client_why)
    assert "TestClient1" not in h.clients()


def test_impostor_is_refused_and_changes_nothing(h, fx):
    """A valid certificate for Mallory claiming TestClient1: 403, logged; the
    real TestClient1 keeps its session, tunnels, traffic and state."""
    srv = start_tls_server(h, fx)
    eb = Backend(echo)
    real = start_real_client(h, fx, services={"echo": f"127.0.0.1:{eb.port}"})
    h.wait_connected("TestClient1")
    public = free_port()
    assert h.put_tunnels([tunnel(public, "echo")])[0] == 200
    bulk(public, 2, 100000)
    before = h.clients()

    mallory = fx["pki"].leaf("mallory", "Mallory@example.com", fx["inter"], kind="ec", eku="clientAuth")
    imp = spawn_client(h, tls_client_cfg("TestClient1", mallory, os.path.join(fx["pki"].dir, "InternalCA+ch*.crt"),
                                         h.control_port, {"echo": f"127.0.0.1:{eb.port}"}), name="impostor")
    log_has(srv, r"control connection from 127\.0\.0\.1:\d+ refused: it claims client id \"TestClient1\" but its "
                 r"certificate says \"Mallory@example\.com\"")
    log_has(imp, r"tunnel server error: status=403 .*does not match the TLS certificate")
    # Let it retry at least once more, then look.
    wait_for(lambda: imp.text().count("status=403") >= 2, timeout=15, what="a second refusal")
    assert h.clients() == before
    bulk(public, 4, 200000)
    assert "ClientDisconnected" not in real.text()
    assert "replaces" not in srv.text()
    imp.stop()


def test_plaintext_on_tls_ports(h, fx):
    srv = start_tls_server(h, fx, layout="2020")
    for port, what, data in ((h.control_port, "control",
                              b"CONNECT /_controlPath/ HTTP/1.1\r\nX-Threshold-ClientId: TestClient1\r\n\r\n"),
                             (h.mgmt_port, "management", b"GET /clients HTTP/1.1\r\nHost: x\r\n\r\n")):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            lport = s.getsockname()[1]
            s.sendall(data)
            s.settimeout(10)
            try:
                got = s.recv(4096)
            except ConnectionResetError:
                got = b""
            assert b"HTTP" not in got
        log_has(srv, rf"{what} connection from 127\.0\.0\.1:{lport}: TLS handshake failed: not TLS "
                     r"\(plaintext on a TLS port\?\)")


def test_stalled_handshakes_time_out_and_keep_no_fd(h, fx):
    srv = start_tls_server(h, fx, extra={"HandshakeTimeoutSeconds": 1})
    pid = srv.p.pid
    base = settled_fds(pid)
    hello = client_hello()
    socks = []
    # Nothing at all; half a ClientHello; a whole one, then silence while
    # the server waits for our side of the handshake.
    for data in (b"", hello[:20], hello):
        s = socket.create_connection(("127.0.0.1", h.control_port), timeout=10)
        if data:
            s.sendall(data)
        socks.append(s)
    # The server answered the whole hello with its flight.
    first = socks[2].recv(5)
    assert first[:1] == b"\x16", first
    wait_for(lambda: srv.text().count("TLS handshake not complete within 1000 ms; closed") >= 3, timeout=15,
             what="three handshake timeouts")
    for s in socks:
        s.settimeout(10)
        drain_until_closed(s)
        s.close()
    wait_fds(pid, base)
    assert h.http("GET", "/ping")[0] == 200


def test_thousand_abandoned_handshakes(h, fx):
    """1000 handshakes opened and dropped at various points: the server's fd
    count returns to its baseline and its memory to near it (release build;
    the sanitizer build keeps freed memory in quarantine)."""
    srv = start_tls_server(h, fx)
    pid = srv.p.pid
    hellos = [client_hello() for _ in range(8)]

    def round_of(n, batch=100):
        for start in range(0, n, batch):
            socks = []
            for i in range(start, start + batch):
                s = socket.create_connection(("127.0.0.1", h.control_port), timeout=10)
                hello = hellos[i % len(hellos)]
                mode = i % 4
                if mode == 0:
                    s.sendall(hello[:len(hello) // 2])   # half a hello
                elif mode in (1, 2):
                    s.sendall(hello)                     # whole hello
                if mode == 3:                            # reset at once
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                socks.append((s, mode))
            for s, mode in socks:
                if mode == 2:
                    s.settimeout(10)
                    try:
                        s.recv(5)                        # the server's flight began
                    except OSError:
                        pass
                s.close()

    round_of(100)                      # warm up allocators
    base_fd = settled_fds(pid)
    base_rss = rss_kib(pid)
    round_of(1000)
    wait_fds(pid, base_fd)
    if not SANITIZED:
        rss = rss_kib(pid)
        assert rss <= base_rss + 16 * 1024, f"RSS {base_rss} KiB -> {rss} KiB after 1000 abandoned handshakes"
    assert h.http("GET", "/ping")[0] == 200
    assert "Sanitizer" not in srv.text()


# ---- management with curl and ManagementClientIds ----

def test_threshold_certs_and_management_ids(h):
    """A set from `threshold certs`, used unchanged: the admin certificate
    manages, a tunnel client's certificate gets 403, no certificate fails
    the handshake; the tunnel then carries traffic."""
    port = free_port()
    d = os.path.join(h.tmp, "pki")
    r = subprocess.run([BIN, "certs", "--dir", d, "--server-name", "localhost", "--server-ip", "127.0.0.1",
                        "--client", "TestClient1", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert oct(os.stat(d).st_mode & 0o777) == "0o700"
    assert oct(os.stat(os.path.join(d, "admin@example.com.key")).st_mode & 0o777) == "0o600"
    # Refuses to overwrite.
    r2 = subprocess.run([BIN, "certs", "--dir", d, "--client", "x"], capture_output=True, text=True, timeout=60)
    assert r2.returncode == 1 and "exists" in r2.stderr

    ca = os.path.join(d, "ca.crt")
    admin = (os.path.join(d, "admin@example.com+chain.crt"), os.path.join(d, "admin@example.com.key"))
    tc1 = (os.path.join(d, "TestClient1@example.com+chain.crt"), os.path.join(d, "TestClient1@example.com.key"))
    srv = h.spawn("server", [BIN, "server", "-c", os.path.join(d, "server-config.json")])
    h.control_port = h.mgmt_port = port
    h.tls = (ca, admin[0], admin[1])
    wait_for(lambda: h.http("GET", "/ping")[0] == 200, what="server /ping")
    assert "ManagementClientIds is not set" not in srv.text()

    eb = Backend(echo)
    with open(os.path.join(d, "client-TestClient1-config.json")) as f:
        ccfg = json.load(f)
    ccfg["ServiceToLocalAddrMap"] = {"echo": f"127.0.0.1:{eb.port}"}
    cpath = h.write_json("client-config.json", ccfg)
    h.spawn("client", [BIN, "client", "-c", cpath])
    h.wait_connected("TestClient1")

    st, body = curl_mgmt(admin, "/clients", port=port, ca=ca)
    assert st == 200 and json.loads(body)["TestClient1"]["CurrentState"] == "ClientConnected", body
    st, body = curl_mgmt(tc1, "/clients", port=port, ca=ca)
    assert st == 403, body
    log_has(srv, r"management request from 127\.0\.0\.1:\d+ refused: certificate \"TestClient1@example\.com\" is "
                 r"not in ManagementClientIds")
    public = free_port()
    path = h.write_json("tunnels.json", [tunnel(public, "echo")])
    st, body = curl_mgmt(tc1, "/tunnels", "-X", "PUT", "-H", "Content-Type: application/json", "-d", f"@{path}",
                         port=port, ca=ca)
    assert st == 403, body
    st, err = curl_mgmt(None, "/clients", port=port, ca=ca, check=False)
    assert st is None, err
    log_has(srv, r"control connection from 127\.0\.0\.1:\d+: TLS handshake failed: peer did not return a certificate")
    st, body = curl_mgmt(admin, "/tunnels", "-X", "PUT", "-H", "Content-Type: application/json", "-d", f"@{path}",
                         port=port, ca=ca)
    assert st == 200, body
    bulk(public, 4, 300000)


# ---- our client's checks of the server ----

@pytest.mark.parametrize("case", ["wrong-name", "wrong-ip", "unknown-ca", "expired"])
def test_client_refuses_bad_server_certificate(h, fx, case):
    p = fx["pki"]
    glob = os.path.join(p.dir, "InternalCA+ch*.crt")
    host = "localhost"
    if case == "expired":
        srv_cert = p.leaf("old-localhost", "localhost", fx["inter"], kind="ec", dns=["localhost"], expired=True)
        why = r"TLS handshake failed: certificate has expired with localhost"
    elif case == "unknown-ca":
        other = Pki(os.path.join(h.tmp, "other"))
        oroot = other.root("OtherCA", "/CN=OtherCA", kind="ec")
        srv_cert = other.leaf("srv", "localhost", oroot, kind="ec", dns=["localhost"], ips=["127.0.0.1"])
        why = r"TLS handshake failed: self-signed certificate in certificate chain with localhost"
    else:
        srv_cert = p.leaf("otherhost", "otherhost", fx["inter"], kind="rsa", dns=["otherhost"], ips=["127.0.0.2"])
        if case == "wrong-ip":
            host = "127.0.0.1"
            why = r"TLS handshake failed: IP address mismatch with 127\.0\.0\.1"
        else:
            why = r"TLS handshake failed: hostname mismatch with localhost"
    fx = dict(fx, server=srv_cert)
    srv = start_tls_server(h, fx, wait=False)
    cl = spawn_client(h, tls_client_cfg("TestClient1", fx["client"], glob, h.control_port, {}, host=host))
    log_has(cl, r"client \[TestClient1\]: connecting to \S+ failed: " + why)
    assert "ClientConnected" not in cl.text()
    assert "TestClient1" not in srv.text()
    log_has(srv, r"control connection from 127\.0\.0\.1:\d+: TLS handshake failed")


@pytest.mark.parametrize("case", ["no-ca-file", "glob-matches-nothing", "key-mismatch", "not-pem"])
def test_client_tls_files_are_checked_at_start(h, fx, case):
    c = fx["client"]
    cfg = tls_client_cfg("TestClient1", c, fx["root"].chain, free_port(), {}, layout="2020")
    if case == "no-ca-file":
        cfg["CaCertificateFile"] = os.path.join(h.tmp, "nope.crt")
        why = "nope.crt: No such file"
    elif case == "glob-matches-nothing":
        del cfg["CaCertificateFile"]
        cfg["CaCertificateFilesGlob"] = os.path.join(h.tmp, "none-*.crt")
        why = "matches no file"
    elif case == "key-mismatch":
        cfg["ClientTlsKeyFile"] = fx["server"].key
        why = "does not match"
    else:
        bad = os.path.join(h.tmp, "bad.crt")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        cfg["CaCertificateFile"] = bad
        why = "no PEM certificate"
    path = h.write_json("client-config.json", cfg)
    r = subprocess.run([BIN, "client", "-c", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert why in r.stdout + r.stderr, r.stdout + r.stderr
    assert "Sanitizer" not in r.stderr


# ---- the Go protocol emulator over TLS ----

@pytest.fixture(scope="module")
def peer():
    src = os.path.join(ROOT, "tests", "interop", "threshold_peer.go")
    if not os.path.exists(PEER) or os.path.getmtime(src) > os.path.getmtime(PEER):
        env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
                   GOCACHE=os.path.join(ROOT, "build", "gocache"), GOFLAGS="", GOPROXY="off")
        os.makedirs(os.path.dirname(PEER), exist_ok=True)
        tmp = PEER + f".tmp{os.getpid()}"
        subprocess.run(["go", "build", "-o", tmp, src], env=env, check=True, timeout=300)
        os.replace(tmp, PEER)
    return PEER


@pytest.mark.parametrize("layout", ["2020", "later"])
def test_go_client_emulator_to_our_server_over_tls(h, fx, peer, layout):
    seen = {}
    start_tls_server(h, fx, layout)
    be = Backend(asd_listener(seen))
    c = fx["client"]
    h.spawn("goclient", [peer, "-mode", "client", "-server", f"localhost:{h.control_port}", "-id", "TestClient1",
                         "-header", "identifier" if layout == "2020" else "clientid",
                         "-tls", "-tls-cert", c.chain, "-tls-key", c.key, "-tls-ca", fx["root"].chain,
                         "-service", f"fooService=127.0.0.1:{be.port}"])
    h.wait_connected("TestClient1")
    assert h.clients()["TestClient1"]["Tls"]["Version"] in ("TLSv1.2", "TLSv1.3")
    public = free_port()
    assert h.put_tunnels([tunnel(public, "fooService", proxy=True)])[0] == 200
    sport, answer = send_hello(public)
    assert answer == b"asd"
    assert seen["line"] == f"PROXY TCP4 127.0.0.1 127.0.0.1 {sport} {public}\r\n".encode()


def test_our_client_to_go_server_emulator_over_tls(h, fx, peer):
    seen = {}
    be = Backend(asd_listener(seen))
    s = fx["server"]
    portfile = os.path.join(h.tmp, "peer.ports")
    gp = h.spawn("goserver", [peer, "-mode", "server", "-listen", "127.0.0.1:0", "-portfile", portfile,
                              "-tunnel", "127.0.0.1:0=fooService,proxy", "-tls", "-tls-cert", s.chain,
                              "-tls-key", s.key, "-tls-ca", fx["root"].chain, "-domain", "example.com"])
    wait_for(lambda: os.path.exists(portfile), what="emulator ports")
    ports = dict(line.split() for line in open(portfile).read().splitlines())
    cl = spawn_client(h, tls_client_cfg("TestClient1", fx["client"], os.path.join(fx["pki"].dir, "InternalCA+ch*.crt"),
                                        int(ports["control"]), {"fooService": f"127.0.0.1:{be.port}"}))
    log_has(gp, r"^CONNECTED TestClient1", timeout=20)
    log_has(gp, r"TLS id=TestClient1 cn=TestClient1@example\.com")
    log_has(cl, r"TLSv1\.3 with localhost:\d+ .*verified for \"localhost\"")
    sport, answer = send_hello(int(ports["tunnel0"]))
    assert answer == b"asd"
    assert seen["line"] == f"PROXY TCP4 127.0.0.1 127.0.0.1 {sport} {ports['tunnel0']}\r\n".encode()


# ---- a management answer bigger than the socket buffers, read late ----

def test_big_management_answer_to_a_slow_reader(h, fx):
    """A PUT with 4,000 bad entries gets an error answer of about 330 KiB,
    written over TLS to a reader with a small receive buffer that starts
    reading a second late (the server's writes stop half way): the answer
    arrives whole (status, Content-Length, JSON naming every entry in
    order), then the server's FIN. (Loopback send buffers grow to a few
    MiB, so the records the socket cannot take at all are exercised by the
    TLS unit tests, not here.)"""
    start_tls_server(h, fx)
    n = 4000
    body = json.dumps([{"ClientIdentifier": "TestClient1", "ListenPort": 0, "ListenAddress": "127.0.0.1",
                        "ListenHostnameGlob": "*", "BackEndService": f"svc{i}", "HaProxyProxyProtocol": False}
                       for i in range(n)]).encode()
    ca, cert, key = h.tls
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", h.mgmt_port), timeout=10)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)  # small: the server's writes stop half way
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"PUT /tunnels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    time.sleep(1.0)  # the server has written what fits
    data = recv_all(s)
    s.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head[:200]
    assert len(payload) > 200_000, len(payload)
    m = re.search(rb"Content-Length: (\d+)", head)
    assert m and int(m.group(1)) == len(payload)
    doc = json.loads(payload)
    assert doc["field"] == "[0].ListenPort"
    assert [e["index"] for e in doc["errors"]] == list(range(n))
    assert all(e["field"] == "ListenPort" for e in doc["errors"])
