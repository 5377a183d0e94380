"""SNI routing with many tunnels on one port: every tunnel of a listener
counts (there was a hidden cap of 64: past it, names reached the catch-all),
and the most specific glob wins whatever the count (issue 10)."""
import socket

import pytest

from backends import Backend
from conftest import free_port
from test_sni import client_hello

N = 70  # tunnels on the port: "*.example.com" first, then h1..h69


def tagged(tag):
    """A plain TCP backend: reads what arrives first (the ClientHello the
    gateway forwards untouched), answers with its tag and closes."""
    def handler(c):
        c.recv(65536)
        c.sendall(tag)
    return Backend(handler)


def reach(port, host):
    """The tag of the backend a TLS ClientHello for host reaches ("" if the
    gateway drops it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(client_hello(host))
        s.settimeout(10)
        out = b""
        while True:
            d = s.recv(100)
            if not d:
                return out.decode()
            out += d


@pytest.fixture
def many(h):
    h.server(extra={"SniPeekTimeoutSeconds": 30})
    names = ["wild"] + [f"h{i}" for i in range(1, N)]
    backs = {n: tagged(n.encode()) for n in names}
    h.client("c1", {n: f"127.0.0.1:{b.port}" for n, b in backs.items()})
    h.wait_connected("c1")
    yield names
    for b in backs.values():
        b.close()


@pytest.mark.parametrize("order", ["wildcard_first", "wildcard_last"])
def test_seventy_tunnels_each_reach_their_own(h, many, order):
    port = free_port()
    ts = [{"ListenAddress": "127.0.0.1", "ListenPort": port,
           "ListenHostnameGlob": "*.example.com" if n == "wild" else f"{n}.example.com",
           "BackEndService": n, "ClientIdentifier": "c1"} for n in many]
    if order == "wildcard_last":
        ts.reverse()
    assert len(ts) == N
    st, body, _ = h.put_tunnels(ts)
    assert st == 200, body
    assert reach(port, "h64.example.com") == "h64"
    assert reach(port, "h69.example.com") == "h69"
    assert reach(port, "H65.Example.COM") == "h65"
    assert reach(port, "h1.example.com") == "h1"
    assert reach(port, "zzz.example.com") == "wild"
    assert reach(port, "h70.example.com") == "wild"
    assert reach(port, "example.org") == ""
