"""Management API: PUT /tunnels all-or-nothing, validation, limits."""
import json
import os
import socket
import time

from conftest import free_port, wait_for


def tunnel(port, client="c1", service="svc", addr="127.0.0.1", glob="*", proxy=False):
    return {"HaProxyProxyProtocol": proxy, "ListenAddress": addr, "ListenHostnameGlob": glob,
            "ListenPort": port, "BackEndService": service, "ClientIdentifier": client}


def can_connect(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_put_get_and_listeners_follow(h):
    h.server()
    p1, p2 = free_port(), free_port()
    st, body, hdr = h.put_tunnels([tunnel(p1)])
    assert st == 200, body
    assert json.loads(body) == [tunnel(p1)]
    assert list(json.loads(body)[0].keys()) == ["HaProxyProxyProtocol", "ListenAddress",
                                                "ListenHostnameGlob", "ListenPort",
                                                "BackEndService", "ClientIdentifier"]
    assert can_connect(p1)
    st, body, _ = h.http("GET", "/tunnels")
    assert st == 200 and json.loads(body) == [tunnel(p1)]
    # Replace: p1 goes away, p2 comes.
    st, body, _ = h.put_tunnels([tunnel(p2)])
    assert st == 200, body
    assert not can_connect(p1)
    assert can_connect(p2)
    # Empty and null remove everything.
    st, body, _ = h.put_tunnels("[]")
    assert st == 200 and body == "[]"
    assert not can_connect(p2)
    st, body, _ = h.put_tunnels("null")
    assert st == 200 and body == "null"


def assert_unchanged(h, expected):
    st, body, _ = h.http("GET", "/tunnels")
    assert st == 200
    assert json.loads(body) == expected


def test_hostile_puts_change_nothing(h):
    h.server()
    keep = free_port()
    good = [tunnel(keep)]
    assert h.put_tunnels(good)[0] == 200
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    held = blocker.getsockname()[1]
    fresh = free_port()
    cases = [
        ("not json", "{not json", 422, None),
        ("object not array", '{"ListenPort": 1}', 422, None),
        ("wrong types", json.dumps([dict(tunnel(fresh), ListenPort="80")]), 422, "ListenPort"),
        ("bool type", json.dumps([dict(tunnel(fresh), HaProxyProxyProtocol="yes")]), 422,
         "HaProxyProxyProtocol"),
        ("port 0", json.dumps([tunnel(0)]), 400, "ListenPort"),
        ("port 70000", json.dumps([tunnel(70000)]), 400, "ListenPort"),
        ("hostname", json.dumps([tunnel(fresh, addr="localhost")]), 400, "ListenAddress"),
        ("empty address", json.dumps([tunnel(fresh, addr="")]), 400, "ListenAddress"),
        ("unknown field", json.dumps([dict(tunnel(fresh), Bogus=1)]), 400, "Bogus"),
        ("empty client", json.dumps([tunnel(fresh, client="")]), 400, "ClientIdentifier"),
        ("duplicate", json.dumps([tunnel(fresh), tunnel(fresh, client="c2")]), 400, "ListenHostnameGlob"),
        ("port held by another process", json.dumps([tunnel(fresh), tunnel(held)]), 409, "ListenPort"),
        ("control port", json.dumps([tunnel(h.control_port, addr="0.0.0.0")]), 409, "ListenPort"),
        ("nested brackets", "[" * 100000 + "]" * 100000, 422, None),
    ]
    try:
        for name, body, status, field in cases:
            st, text, _ = h.put_tunnels(body)
            assert st == status, (name, st, text)
            err = json.loads(text)
            assert err["error"], name
            if field:
                assert any(e.get("field") == field for e in err["errors"]), (name, err)
                assert any("index" in e for e in err["errors"]), (name, err)
            assert_unchanged(h, good)
            assert can_connect(keep), name
            assert not can_connect(fresh), name
    finally:
        blocker.close()


def test_every_problem_is_listed(h):
    h.server()
    body = [tunnel(0), tunnel(free_port(), addr="nope"), dict(tunnel(free_port()), Extra=True)]
    st, text, _ = h.put_tunnels(body)
    assert st == 400
    errs = json.loads(text)["errors"]
    assert {(e["index"], e["field"]) for e in errs} >= {(0, "ListenPort"), (1, "ListenAddress"), (2, "Extra")}


def test_keys_case_insensitive_and_unconnected_client(h):
    h.server()
    p = free_port()
    body = [{"listenport": p, "LISTENADDRESS": "127.0.0.1", "clientidentifier": "nobody",
             "backendservice": "x"}]
    st, text, _ = h.put_tunnels(body)
    assert st == 200, text
    # The client is not connected: a visitor is accepted and closed at once.
    with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
        s.settimeout(5)
        assert s.recv(10) == b""


def test_limits_and_methods(h):
    h.server(extra={"HandshakeTimeoutSeconds": 1})
    st, body, hdr = h.http("POST", "/clients", "")
    assert st == 405 and hdr.get("Allow") == "GET"
    st, body, hdr = h.http("DELETE", "/tunnels")
    assert st == 405 and "PUT" in hdr.get("Allow")
    st, body, _ = h.http("GET", "/nope")
    assert st == 404
    # Body over 1 MiB.
    st, body, _ = h.put_tunnels("[" + " " * (1024 * 1024 + 10) + "]")
    assert st == 413
    # Header block over 8 KiB.
    with socket.create_connection(("127.0.0.1", h.mgmt_port), timeout=5) as s:
        s.sendall(b"GET /clients HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        s.settimeout(5)
        assert s.recv(100).startswith(b"HTTP/1.1 431")
    # A slow request times out.
    with socket.create_connection(("127.0.0.1", h.mgmt_port), timeout=5) as s:
        s.sendall(b"GET /clients HTTP/1.1\r\n")
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 408")
    st, body, _ = h.http("GET", "/ping")
    assert st == 200 and body == "pong"


def test_garbage_on_every_port_keeps_server_up(h):
    srv = h.server()
    p = free_port()
    assert h.put_tunnels([tunnel(p)])[0] == 200
    rnd = os.urandom(65536)
    for port in (h.control_port, h.mgmt_port, p):
        for chunk in (rnd[:5], rnd, b"\x16\x03\x01\x00\x05", b"\x00" * 12, b"CONNECT /_controlPath/ HTTP/1.1\r\n\r\n"):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(chunk)
                    s.settimeout(3)
                    try:
                        s.recv(4096)
                    except OSError:
                        pass
            except OSError:
                pass
    assert srv.alive()
    assert h.http("GET", "/ping")[0] == 200
    assert can_connect(p)


def test_management_on_loopback_only_without_tls(h):
    h.server()
    # The 2020 layout binds the management port to loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        addrs = [a for a in socket.gethostbyname_ex(socket.gethostname())[2] if not a.startswith("127.")]
        for a in addrs:
            assert s.connect_ex((a, h.mgmt_port)) != 0


def test_tunnels_file_persists(h):
    path = os.path.join(h.tmp, "tunnels.json")
    srv = h.server(extra={"TunnelsFile": path})
    p = free_port()
    assert h.put_tunnels([tunnel(p)])[0] == 200
    with open(path) as f:
        assert json.load(f) == [tunnel(p)]
    srv.stop()
    h.server(extra={"TunnelsFile": path})
    assert_unchanged(h, [tunnel(p)])
    assert can_connect(p)
