"""Routing by TLS SNI on a shared port, with real TLS clients and servers.
The gateway never terminates TLS: backends hold their own certificates."""
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from backends import Backend
from conftest import free_port, wait_for


def make_cert(dirpath, cn):
    key, crt = os.path.join(dirpath, f"{cn}.key"), os.path.join(dirpath, f"{cn}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn}"], check=True, capture_output=True)
    return crt, key


def tls_backend(crt, key, tag):
    """A real TLS server: answers every request line with its tag."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)

    def handler(c):
        with ctx.wrap_socket(c, server_side=True) as t:
            t.recv(100)
            t.sendall(tag)
    return Backend(handler)


def client_hello(host, pad=0):
    """The bytes a real TLS client sends first (Python's ssl), optionally
    made bigger with extra ALPN protocols (as post-quantum key shares do)."""
    ctx = ssl.create_default_context()
    if pad:
        ctx.set_alpn_protocols([("p%04d" % i) + "x" * 40 for i in range(pad // 46)])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=host)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def tls_get(port, host):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            t.sendall(b"GET\n")
            return t.recv(100), t.getpeercert(binary_form=True)


def tunnel(port, glob, service):
    return {"ListenAddress": "127.0.0.1", "ListenPort": port, "ListenHostnameGlob": glob,
            "BackEndService": service, "ClientIdentifier": "c1", "HaProxyProxyProtocol": False}


@pytest.fixture
def sni_gateway(h):
    h.server(extra={"SniPeekTimeoutSeconds": 30})
    backs = {}
    for name, cn in (("fallback", "fallback.test"), ("web", "www.example.com"), ("api", "api.example.com")):
        crt, key = make_cert(h.tmp, cn)
        backs[name] = tls_backend(crt, key, name.encode())
    h.client("c1", {k: f"127.0.0.1:{b.port}" for k, b in backs.items()})
    h.wait_connected("c1")
    return backs


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_most_specific_glob_wins(h, sni_gateway, order):
    port = free_port()
    ts = [tunnel(port, "*", "fallback"), tunnel(port, "*.example.com", "web"),
          tunnel(port, "api.example.com", "api")]
    if order == "reverse":
        ts.reverse()
    st, body, _ = h.put_tunnels(ts)
    assert st == 200, body
    assert tls_get(port, "api.example.com")[0] == b"api"
    assert tls_get(port, "API.Example.COM")[0] == b"api"
    assert tls_get(port, "www.example.com")[0] == b"web"
    assert tls_get(port, "a.b.example.com")[0] == b"web"
    assert tls_get(port, "example.org")[0] == b"fallback"
    # Not TLS at all: the `*` tunnel.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(10)
        # the fallback backend expects TLS and drops us; what matters is
        # that the bytes were routed (the server logs the route)
        try:
            s.recv(100)
        except OSError:
            pass


def test_no_fallback_drops_unknown_names(h, sni_gateway):
    port = free_port()
    st, body, _ = h.put_tunnels([tunnel(port, "api.example.com", "api")])
    assert st == 200, body
    assert tls_get(port, "api.example.com")[0] == b"api"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(client_hello("other.example.com"))
        s.settimeout(10)
        assert s.recv(100) == b""
    wait_for(lambda: 'hostname "other.example.com"' in h.procs[0].text(), what="the drop logged")


def test_openssl_s_client_and_curl(h, sni_gateway):
    port = free_port()
    assert h.put_tunnels([tunnel(port, "*", "fallback"), tunnel(port, "api.example.com", "api")])[0] == 200
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "api.example.com",
                        "-ign_eof"], input=b"hello\n", capture_output=True, timeout=30)
    assert b"CN = api.example.com" in r.stdout + r.stderr
    assert b"api" in r.stdout
    r = subprocess.run(["curl", "-vsk", "--max-time", "10", "--resolve", f"api.example.com:{port}:127.0.0.1",
                        "-o", "/dev/null", f"https://api.example.com:{port}/"], capture_output=True, timeout=30)
    # The backend is not an HTTP server; what matters is which certificate
    # curl saw: the api backend's, so it reached the right place.
    assert b"subject: CN=api.example.com" in r.stderr, r.stderr
    r2 = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "www.other.test"],
                        input=b"x\n", capture_output=True, timeout=30)
    assert b"CN = fallback.test" in r2.stdout + r2.stderr


def test_big_hello_in_two_segments_and_probe(h, sni_gateway):
    port = free_port()
    assert h.put_tunnels([tunnel(port, "*", "fallback"), tunnel(port, "api.example.com", "api")])[0] == 200
    hello = client_hello("api.example.com", pad=1500)
    assert len(hello) > 1700
    got = {}

    # Replace the api backend by one that records the raw bytes.
    rec = Backend(lambda c: (got.setdefault("data", c.recv(65536)), c.sendall(b"raw")))
    h.client("c2", {"api": f"127.0.0.1:{rec.port}", "fallback": f"127.0.0.1:{rec.port}"}, name="client2")
    h.wait_connected("c2")
    port2 = free_port()
    assert h.put_tunnels([tunnel(port, "*", "fallback"), tunnel(port, "api.example.com", "api"),
                          dict(tunnel(port2, "api.example.com", "api"), ClientIdentifier="c2")])[0] == 200
    with socket.create_connection(("127.0.0.1", port2), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(hello[:700])
        time.sleep(0.2)  # a real segment boundary (the server must wait, not decide)
        s.sendall(hello[700:])
        s.settimeout(10)
        assert s.recv(10) == b"raw"
    wait_for(lambda: got.get("data") is not None, what="the backend to get the hello")
    assert got["data"] == hello  # forwarded unchanged
    # The 5-byte probe that crashed the original, and every truncation of a hello.
    srv = h.procs[0]
    for chunk in [b"\x16\x03\x01\x00\x05"] + [hello[:n] for n in range(0, len(hello), 97)]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            try:
                s.recv(100)
            except OSError:
                pass
    assert srv.alive()
    assert tls_get(port, "api.example.com")[0] == b"api"


def test_idle_visitors_block_nothing(h, sni_gateway):
    """200 silent visitors on an SNI port (peek deadline 30 s): other
    visitors on that port and on other ports are served meanwhile."""
    port, plain = free_port(), free_port()
    assert h.put_tunnels([tunnel(port, "api.example.com", "api"), tunnel(port, "*", "fallback"),
                          tunnel(plain, "*", "web")])[0] == 200
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(200)]
    try:
        assert tls_get(port, "api.example.com")[0] == b"api"
        assert tls_get(plain, "www.example.com")[0] == b"web"
        assert all(s.fileno() >= 0 for s in idle)
    finally:
        for s in idle:
            s.close()
    assert h.procs[0].alive()
