"""PROXY protocol v1/v2 towards backends, PROXY from a trusted load
balancer in front of the gateway, and IPv6 visitors. haproxy (Debian's
package) plays the real receiver and the real sender."""
import os
import shutil
import socket
import struct
import subprocess
import threading

import pytest

from backends import Backend, read_proxy_line
from conftest import free_port, wait_for
from test_sni import client_hello

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def read_exact(c, n):
    out = b""
    while len(out) < n:
        d = c.recv(n - len(out))
        if not d:
            break
        out += d
    return out


def parse_v2(c):
    """Reads one PROXY v2 header; returns (src, sport, dst, dport, tlvs)."""
    hdr = read_exact(c, 16)
    assert hdr[:12] == V2_SIG, hdr
    ver_cmd, fam, ln = hdr[12], hdr[13], struct.unpack("!H", hdr[14:16])[0]
    assert ver_cmd == 0x21
    body = read_exact(c, ln)
    if fam == 0x11:
        src, dst = socket.inet_ntop(socket.AF_INET, body[0:4]), socket.inet_ntop(socket.AF_INET, body[4:8])
        sport, dport = struct.unpack("!HH", body[8:12])
        rest = body[12:]
    else:
        assert fam == 0x21, fam
        src, dst = socket.inet_ntop(socket.AF_INET6, body[0:16]), socket.inet_ntop(socket.AF_INET6, body[16:32])
        sport, dport = struct.unpack("!HH", body[32:36])
        rest = body[36:]
    tlvs = {}
    while rest:
        t, l = rest[0], struct.unpack("!H", rest[1:3])[0]
        tlvs[t] = rest[3:3 + l]
        rest = rest[3 + l:]
    return src, sport, dst, dport, tlvs


def tunnel(port, service, addr="127.0.0.1", glob="*", **kw):
    t = {"ListenAddress": addr, "ListenPort": port, "ListenHostnameGlob": glob, "BackEndService": service,
         "ClientIdentifier": "c1", "HaProxyProxyProtocol": True}
    t.update(kw)
    return t


def gateway(h, services):
    h.server(extra={"SniPeekTimeoutSeconds": 2})
    h.client("c1", services)
    h.wait_connected("c1")


def test_proxy_v2_with_sni_and_unique_id(h):
    seen = {}

    def backend(c):
        seen["hdr"] = parse_v2(c)
        seen["rest"] = c.recv(65536)
        c.sendall(b"ok")

    be = Backend(backend)
    gateway(h, {"svc": f"127.0.0.1:{be.port}"})
    port = free_port()
    st, body, _ = h.put_tunnels([tunnel(port, "svc", glob="api.example.com", ProxyProtocolVersion=2)])
    assert st == 200, body
    assert '"ProxyProtocolVersion":2' in body
    hello = client_hello("api.example.com")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(hello)
        s.settimeout(10)
        assert s.recv(2) == b"ok"
        sport = s.getsockname()[1]
    src, sp, dst, dp, tlvs = seen["hdr"]
    assert (src, sp, dst, dp) == ("127.0.0.1", sport, "127.0.0.1", port)
    assert tlvs[0x02] == b"api.example.com"
    uid = tlvs[0x05].decode()
    assert seen["rest"] == hello
    wait_for(lambda: f"conn {uid} " in h.procs[0].text(), what="the unique id in the log line")


def test_v2_ipv6_and_v1_tcp6(h):
    seen = []

    def backend(c):
        first = c.recv(1, socket.MSG_PEEK)
        seen.append(parse_v2(c) if first == b"\r" else read_proxy_line(c))
        c.sendall(b"ok")

    be = Backend(backend)
    gateway(h, {"svc": f"127.0.0.1:{be.port}"})
    ports, p4 = [free_port("::1"), free_port("::1")], free_port()
    assert h.put_tunnels([tunnel(ports[0], "svc", addr="::1", ProxyProtocolVersion=2),
                          tunnel(ports[1], "svc", addr="::1")])[0] == 200
    with socket.create_connection(("::1", ports[0]), timeout=10) as s:
        s.sendall(b"x")
        s.settimeout(10)
        assert s.recv(2) == b"ok"
        sport = s.getsockname()[1]
    assert seen[0][:4] == ("::1", sport, "::1", ports[0])
    with socket.create_connection(("::1", ports[1]), timeout=10) as s:
        s.sendall(b"x")
        s.settimeout(10)
        assert s.recv(2) == b"ok"
        sport = s.getsockname()[1]
    assert seen[1] == f"PROXY TCP6 ::1 ::1 {sport} {ports[1]}\r\n".encode()
    # A dual-stack wildcard listener shows an IPv4 visitor as IPv4.
    assert h.put_tunnels([tunnel(p4, "svc", addr="::")])[0] == 200
    with socket.create_connection(("127.0.0.1", p4), timeout=10) as s:
        s.sendall(b"x")
        s.settimeout(10)
        assert s.recv(2) == b"ok"
        sport = s.getsockname()[1]
    assert seen[2] == f"PROXY TCP4 127.0.0.1 127.0.0.1 {sport} {p4}\r\n".encode()


def test_untrusted_proxy_header_refused_trusted_required(h):
    got = []
    be = Backend(lambda c: (got.append(read_proxy_line(c)), c.sendall(b"ok")))
    gateway(h, {"svc": f"127.0.0.1:{be.port}"})
    port, port2 = free_port(), free_port()
    assert h.put_tunnels([tunnel(port, "svc", AcceptProxyProtocolFrom=["127.0.0.9/32"]),
                          tunnel(port2, "svc", AcceptProxyProtocolFrom=["127.0.0.0/8"])])[0] == 200
    # Not trusted, sends a PROXY header: refused.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhello")
        s.settimeout(10)
        assert s.recv(10) == b""
    wait_for(lambda: "not in AcceptProxyProtocolFrom" in h.procs[0].text(), what="refusal logged")
    # Not trusted, plain bytes: served, with its own address.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"hello")
        s.settimeout(10)
        assert s.recv(2) == b"ok"
        sport = s.getsockname()[1]
    assert got[-1] == f"PROXY TCP4 127.0.0.1 127.0.0.1 {sport} {port}\r\n".encode()
    # Trusted, v1 header: its address is the visitor's.
    with socket.create_connection(("127.0.0.1", port2), timeout=10) as s:
        s.sendall(b"PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\nhello")
        s.settimeout(10)
        assert s.recv(2) == b"ok"
    assert got[-1] == b"PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n"
    # Trusted without a header: closed.
    with socket.create_connection(("127.0.0.1", port2), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(10)
        assert s.recv(10) == b""


HAPROXY = shutil.which("haproxy")


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (scripts/deps.sh check installs it)")
def test_haproxy_sends_v1_and_v2_in_front_of_the_gateway(h):
    got = []
    be = Backend(lambda c: (got.append(read_proxy_line(c)), c.sendall(b"ok")))
    gateway(h, {"svc": f"127.0.0.1:{be.port}"})
    gw = free_port()
    assert h.put_tunnels([tunnel(gw, "svc", AcceptProxyProtocolFrom=["127.0.0.1"])])[0] == 200
    f1, f2 = free_port(), free_port()
    cfg = os.path.join(h.tmp, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(f"""global
  log stdout format raw local0
defaults
  mode tcp
  log global
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen v1
  bind 127.0.0.1:{f1}
  server gw 127.0.0.1:{gw} send-proxy
listen v2
  bind 127.0.0.1:{f2}
  server gw 127.0.0.1:{gw} send-proxy-v2
""")
    hp = h.spawn("haproxy", [HAPROXY, "-db", "-f", cfg])
    wait_for(lambda: socket.create_connection(("127.0.0.1", f2), timeout=1).close() is None, what="haproxy")
    for front in (f1, f2):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))  # a visitor address other than the balancer's
        s.connect(("127.0.0.1", front))
        s.sendall(b"hello")
        s.settimeout(10)
        assert s.recv(2) == b"ok"
        sport = s.getsockname()[1]
        s.close()
        # (the readiness probes above also went through haproxy: look for
        # this visitor's line among all, whatever their order)
        want = f"PROXY TCP4 127.0.0.2 127.0.0.1 {sport} {front}\r\n".encode()
        wait_for(lambda: want in got, what="the visitor's PROXY line at the backend")


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (scripts/deps.sh check installs it)")
def test_haproxy_receives_our_v2(h):
    echo = Backend(lambda c: c.sendall(c.recv(100)))
    hp_port = free_port()
    log = os.path.join(h.tmp, "hp.log")
    cfg = os.path.join(h.tmp, "haproxy-rx.cfg")
    with open(cfg, "w") as f:
        f.write(f"""global
  log stdout format raw local0
defaults
  mode tcp
  log global
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:{hp_port} accept-proxy
  log-format "CI=%ci CP=%cp FI=%fi FP=%fp AUTH=%[fc_pp_authority] UID=%[fc_pp_unique_id]"
  default_backend be
backend be
  server s1 127.0.0.1:{echo.port}
""")
    hp = h.spawn("haproxy", [HAPROXY, "-db", "-f", cfg])
    wait_for(lambda: socket.create_connection(("127.0.0.1", hp_port), timeout=1).close() is None, what="haproxy")
    gateway(h, {"svc": f"127.0.0.1:{hp_port}"})
    port = free_port()
    assert h.put_tunnels([tunnel(port, "svc", glob="www.example.com", ProxyProtocolVersion=2)])[0] == 200
    hello = client_hello("www.example.com")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(hello)
        s.settimeout(10)
        assert read_exact(s, 100) == hello[:100]
        sport = s.getsockname()[1]
    line = wait_for(lambda: [l for l in hp.text().splitlines() if l.startswith("CI=")], what="haproxy's log")[0]
    assert f"CI=127.0.0.1 CP={sport} FI=127.0.0.1 FP={port} AUTH=www.example.com UID=" in line, line
