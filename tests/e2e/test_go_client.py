"""Our server with a client that speaks the Go original's protocol byte for
byte (tests/interop/threshold_peer.go -mode client, Debian's yamux)."""
import hashlib
import os
import socket
import subprocess
import threading

import pytest

from backends import Backend, echo, read_proxy_line, recv_all
from conftest import ROOT, free_port, wait_for

PEER = os.path.join(ROOT, "build", "interop", "threshold_peer")


@pytest.fixture(scope="module", autouse=True)
def build_peer():
    src = os.path.join(ROOT, "tests", "interop", "threshold_peer.go")
    if not os.path.exists(PEER) or os.path.getmtime(src) > os.path.getmtime(PEER):
        env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
                   GOCACHE=os.path.join(ROOT, "build", "gocache"), GOFLAGS="", GOPROXY="off")
        os.makedirs(os.path.dirname(PEER), exist_ok=True)
        subprocess.run(["go", "build", "-o", PEER, src], env=env, check=True, timeout=300)


def go_client(h, services, header="identifier", extra=(), name="goclient"):
    args = [PEER, "-mode", "client", "-server", f"127.0.0.1:{h.control_port}", "-id", "c1", "-header", header]
    for k, v in services.items():
        args += ["-service", f"{k}={v}"]
    return h.spawn(name, args + list(extra))


def tunnel(port, service, proxy=False):
    return {"HaProxyProxyProtocol": proxy, "ListenAddress": "127.0.0.1", "ListenHostnameGlob": "*",
            "ListenPort": port, "BackEndService": service, "ClientIdentifier": "c1"}


@pytest.mark.parametrize("header", ["identifier", "clientid"])
def test_usage_example_with_go_client(h, header):
    seen = {}

    def listener(c):
        seen["line"] = read_proxy_line(c)
        seen["data"] = c.recv(4096)
        c.sendall(b"asd")

    h.server()
    be = Backend(listener)
    go_client(h, {"fooService": f"127.0.0.1:{be.port}"}, header=header)
    h.wait_connected("c1")
    pub = free_port()
    assert h.put_tunnels([tunnel(pub, "fooService", proxy=True)])[0] == 200
    with socket.create_connection(("127.0.0.1", pub), timeout=10) as s:
        s.settimeout(10)
        s.sendall(b"Hello ! Hello! \n")
        assert recv_all(s) == b"asd"
        sport = s.getsockname()[1]
    assert seen["line"] == f"PROXY TCP4 127.0.0.1 127.0.0.1 {sport} {pub}\r\n".encode()
    assert seen["data"] == b"Hello ! Hello! \n"
    # The Go client asked for no features: the session runs in Go mode.
    assert "features: server-open" not in h.procs[0].text()


def test_concurrent_visitors_are_paired_fifo(h):
    """Two services on one Go client, 40 concurrent visitors each: every
    visitor reaches its own service (no cross-pairing) with its bytes."""
    h.server()

    def tagged(tag):
        def handler(c):
            data = b""
            while len(data) < 32:
                d = c.recv(32 - len(data))
                if not d:
                    break
                data += d
            c.sendall(tag + hashlib.sha256(data).digest())
        return handler

    a, b = Backend(tagged(b"A")), Backend(tagged(b"B"))
    go_client(h, {"sa": f"127.0.0.1:{a.port}", "sb": f"127.0.0.1:{b.port}"})
    h.wait_connected("c1")
    pa, pb = free_port(), free_port()
    assert h.put_tunnels([tunnel(pa, "sa"), tunnel(pb, "sb")])[0] == 200
    bad = []

    def visitor(i):
        port, tag = (pa, b"A") if i % 2 == 0 else (pb, b"B")
        msg = os.urandom(32)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.settimeout(30)
                s.sendall(msg)
                got = recv_all(s)
            if got != tag + hashlib.sha256(msg).digest():
                bad.append((i, got[:1]))
        except OSError as e:
            bad.append((i, str(e)))

    ts = [threading.Thread(target=visitor, args=(i,)) for i in range(80)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not bad, bad


def test_bulk_through_go_client(h):
    h.server()
    be = Backend(echo)
    go_client(h, {"svc": f"127.0.0.1:{be.port}"})
    h.wait_connected("c1")
    pub = free_port()
    assert h.put_tunnels([tunnel(pub, "svc")])[0] == 200
    results = []

    def visitor(i):
        data = hashlib.sha256(bytes([i])).digest() * (1 << 15)  # 1 MiB
        with socket.create_connection(("127.0.0.1", pub), timeout=60) as s:
            s.settimeout(60)
            t = threading.Thread(target=s.sendall, args=(data,))
            t.start()
            got = bytearray()
            while len(got) < len(data):
                d = s.recv(1 << 20)
                if not d:
                    break
                got += d
            t.join()
        results.append(bytes(got) == data)

    ts = [threading.Thread(target=visitor, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert results.count(True) == 20, results


def test_late_stream_goes_to_abandoned_slot_not_next_visitor(h):
    """The Go client opens its first stream too late: the first visitor has
    given up; that late stream must be reset, and the second visitor must
    get its own stream (the original handed it the wrong one)."""
    h.server(extra={"StreamOpenTimeoutSeconds": 1})
    a = Backend(lambda c: c.sendall(b"from-A"))
    b = Backend(lambda c: c.sendall(b"from-B"))
    go_client(h, {"sa": f"127.0.0.1:{a.port}", "sb": f"127.0.0.1:{b.port}"}, extra=["-delay-first-open", "1500ms"])
    h.wait_connected("c1")
    pa, pb = free_port(), free_port()
    assert h.put_tunnels([tunnel(pa, "sa"), tunnel(pb, "sb")])[0] == 200
    s1 = socket.create_connection(("127.0.0.1", pa), timeout=10)
    s1.settimeout(10)
    try:
        assert s1.recv(100) == b""  # closed after StreamOpenTimeoutSeconds
    except ConnectionResetError:
        pass
    s1.close()
    # The client is still sleeping on the first message: the second
    # visitor's message queues behind it, and its stream comes second.
    s2 = socket.create_connection(("127.0.0.1", pb), timeout=10)
    s2.settimeout(15)
    assert recv_all(s2) == b"from-B"
    s2.close()
    wait_for(lambda: "gave up; reset" in h.procs[0].text(), what="the late stream reset")


def test_unknown_service_with_go_client(h):
    h.server()
    be = Backend(echo)
    go_client(h, {"svc": f"127.0.0.1:{be.port}"})
    h.wait_connected("c1")
    p1, p2 = free_port(), free_port()
    assert h.put_tunnels([tunnel(p1, "nope"), tunnel(p2, "svc")])[0] == 200
    try:
        with socket.create_connection(("127.0.0.1", p1), timeout=10) as s:
            s.settimeout(10)
            s.sendall(b"x")
            assert recv_all(s) == b""
    except ConnectionResetError:
        pass
    with socket.create_connection(("127.0.0.1", p2), timeout=10) as s:
        s.settimeout(10)
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"
