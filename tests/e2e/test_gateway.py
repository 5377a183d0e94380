"""The gateway end to end: our server and our client carrying real traffic."""
import concurrent.futures
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

from backends import Backend, drain_until_closed, echo, read_proxy_line, recv_all
from conftest import BIN, ROOT, free_port, wait_for


def tunnel(port, client="c1", service="svc", proxy=False):
    return {"HaProxyProxyProtocol": proxy, "ListenAddress": "127.0.0.1", "ListenHostnameGlob": "*",
            "ListenPort": port, "BackEndService": service, "ClientIdentifier": client}


def start_gateway(h, handler=echo, proxy=False, client_extra=None, server_extra=None):
    h.server(extra=server_extra)
    be = Backend(handler)
    public = free_port()
    cl = h.client("c1", {"svc": f"127.0.0.1:{be.port}"}, extra=client_extra)
    h.wait_connected("c1")
    st, body, _ = h.put_tunnels([tunnel(public, proxy=proxy)])
    assert st == 200, body
    return be, public, cl


def test_usage_example_demo():
    """`make demo`'s script: the backend sees the visitor's own source port."""
    env = dict(os.environ)
    env.setdefault("THRESHOLD_BIN", os.path.join(ROOT, "build", "threshold"))
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "demo OK" in r.stdout
    assert "Sender: Response from listener was: asd" in r.stdout


def test_proxy_line_names_the_visitor(h):
    seen = {}

    def handler(c):
        seen["line"] = read_proxy_line(c)
        seen["data"] = c.recv(100)
        c.sendall(b"ok")

    be, public, _ = start_gateway(h, handler=handler, proxy=True)
    with socket.create_connection(("127.0.0.1", public), timeout=10) as s:
        s.sendall(b"hello")
        assert recv_all(s) == b"ok"
        sport = s.getsockname()[1]
    assert seen["line"] == f"PROXY TCP4 127.0.0.1 127.0.0.1 {sport} {public}\r\n".encode()
    assert seen["data"] == b"hello"


def test_server_speaks_first(h):
    """No read before routing: an SMTP-style banner reaches a silent visitor."""
    def banner(c):
        c.sendall(b"220 smtp.example.com ESMTP\r\n")
        assert c.recv(100) == b"QUIT\r\n"
        c.sendall(b"221 bye\r\n")

    be, public, _ = start_gateway(h, handler=banner)
    with socket.create_connection(("127.0.0.1", public), timeout=10) as s:
        s.settimeout(10)
        assert s.recv(100) == b"220 smtp.example.com ESMTP\r\n"
        s.sendall(b"QUIT\r\n")
        assert s.recv(100) == b"221 bye\r\n"


def test_100_visitors_1mib_echo(h):
    be, public, _ = start_gateway(h)
    n, size = 100, 1 << 20
    results = [None] * n

    def visitor(i):
        data = hashlib.sha256(str(i).encode()).digest() * (size // 32)
        with socket.create_connection(("127.0.0.1", public), timeout=60) as s:
            s.settimeout(60)
            t = threading.Thread(target=s.sendall, args=(data,))
            t.start()
            got = bytearray()
            while len(got) < size:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += d
            t.join()
            results[i] = hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()

    ts = [threading.Thread(target=visitor, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert all(results), results.count(None)


def test_visitor_half_close_gets_whole_answer(h):
    """The visitor sends, half-closes, and still receives everything."""
    be, public, _ = start_gateway(h)
    data = os.urandom(3 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", public), timeout=30) as s:
        s.settimeout(30)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = recv_all(s)
    assert len(got) == len(data) and got == data


def test_backend_half_close(h):
    """The backend answers after the visitor's EOF, then closes."""
    def after_eof(c):
        got = recv_all(c)
        c.sendall(hashlib.sha256(got).digest())

    be, public, _ = start_gateway(h, handler=after_eof)
    data = os.urandom(1 << 20)
    with socket.create_connection(("127.0.0.1", public), timeout=30) as s:
        s.settimeout(30)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == hashlib.sha256(data).digest()


def test_client_killed_and_restarted(h):
    be, public, cl = start_gateway(h)
    # A visitor mid-transfer.
    s = socket.create_connection(("127.0.0.1", public), timeout=30)
    s.settimeout(30)
    s.sendall(b"x" * 1000)
    assert len(s.recv(1000)) > 0
    cl.kill()
    # The visitor is closed (the socket's 30 s timeout bounds the wait).
    drain_until_closed(s)
    s.close()
    wait_for(lambda: h.clients()["c1"]["CurrentState"] in ("ClientClosed", "ClientError"), timeout=40,
             what="client state closed")
    # Restarted: traffic flows again without a new PUT.
    h.client("c1", {"svc": f"127.0.0.1:{be.port}"}, name="client2")
    h.wait_connected("c1")
    with socket.create_connection(("127.0.0.1", public), timeout=30) as s2:
        s2.settimeout(30)
        s2.sendall(b"again")
        s2.shutdown(socket.SHUT_WR)
        assert recv_all(s2) == b"again"


def test_unknown_service_then_known(h):
    h.server()
    be = Backend(echo)
    p1, p2 = free_port(), free_port()
    h.client("c1", {"svc": f"127.0.0.1:{be.port}"})
    h.wait_connected("c1")
    st, body, _ = h.put_tunnels([tunnel(p1, service="nope"), tunnel(p2)])
    assert st == 200, body
    # The unknown service's visitor is closed (FIN or RST, possibly before
    # connect() even returns), nothing else.
    try:
        with socket.create_connection(("127.0.0.1", p1), timeout=10) as s:
            s.settimeout(10)
            s.sendall(b"hi")
            assert s.recv(10) == b""
    except ConnectionResetError:
        pass
    with socket.create_connection(("127.0.0.1", p2), timeout=10) as s:
        s.settimeout(10)
        s.sendall(b"hi")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"hi"


def test_reconnect_replaces_session(h):
    """A second client with the same id replaces the first; traffic flows."""
    be, public, cl = start_gateway(h)
    h.client("c1", {"svc": f"127.0.0.1:{be.port}"}, name="client2")
    wait_for(lambda: "replaces" in h.procs[0].text(), what="replacement logged")
    h.wait_connected("c1")
    with socket.create_connection(("127.0.0.1", public), timeout=10) as s:
        s.settimeout(10)
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"ping"


def test_dead_peers_are_noticed(h):
    """A frozen client (SIGSTOP) is noticed by the server within
    DeadPeerSeconds, and a frozen server by the client."""
    h.server(extra={"DeadPeerSeconds": 2, "KeepAliveSeconds": 1})
    be = Backend(echo)
    cl = h.client("c1", {"svc": f"127.0.0.1:{be.port}"}, extra={"DeadPeerSeconds": 2, "KeepAliveSeconds": 1})
    h.wait_connected("c1")
    cl.p.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: h.clients()["c1"]["CurrentState"] != "ClientConnected", timeout=20,
                 what="the server to notice the frozen client")
    finally:
        cl.p.send_signal(signal.SIGCONT)
    h.wait_connected("c1", timeout=20)  # it comes back by itself
    srv = h.procs[0]
    srv.p.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: "keepalive timeout" in cl.text(), timeout=20, what="the client to notice the frozen server")
    finally:
        srv.p.send_signal(signal.SIGCONT)
    h.wait_connected("c1", timeout=30)


def test_out_of_descriptors_pauses_and_recovers(h):
    """With its descriptors used up the server pauses accepting (it neither
    dies nor spins), and serves again once visitors leave."""
    h.server()  # to get ports; replaced below by one with a tiny fd limit
    h.procs[0].stop()
    path = os.path.join(h.tmp, "server-config.json")
    srv = h.spawn("server-lowfd", ["prlimit", "--nofile=48:48", BIN, "server", "-c", path])
    srv.threshold = True
    wait_for(lambda: h.http("GET", "/ping")[0] == 200, what="server")
    be = Backend(echo)
    h.client("c1", {"svc": f"127.0.0.1:{be.port}"})
    h.wait_connected("c1")
    public = free_port()
    assert h.put_tunnels([tunnel(public)])[0] == 200
    held = []
    try:
        for _ in range(80):
            s = socket.create_connection(("127.0.0.1", public), timeout=10)
            held.append(s)
        wait_for(lambda: "pausing accepts" in srv.text(), what="the pause logged")
        assert srv.alive()
    finally:
        for s in held:
            s.close()
    # Served again once descriptors are back.
    def echo_ok():
        with socket.create_connection(("127.0.0.1", public), timeout=10) as s:
            s.settimeout(10)
            s.sendall(b"back")
            s.shutdown(socket.SHUT_WR)
            return recv_all(s) == b"back"
    wait_for(echo_ok, timeout=30, what="service after the pause")


def test_admin_socket_setting_is_named_not_served(h):
    """A later-generation client config with AdminUnixSocket loads and the
    client works; the log says the admin socket is not served, and nothing
    is created at (or deleted from) that path."""
    h.server()
    be = Backend(echo)
    sock_path = os.path.join(h.tmp, "admin.sock")
    with open(sock_path, "w") as f:
        f.write("not a socket\n")  # the original deleted whatever was there
    cfg = {"DebugLog": False, "ClientIdentifier": "TestClient1", "ServerAddr": f"127.0.0.1:{h.control_port}",
           "UseTls": False, "AdminUnixSocket": sock_path,
           "ServiceToLocalAddrMap": {"echo": f"127.0.0.1:{be.port}"}}
    path = h.write_json("client-config.json", cfg)
    cl = h.spawn("client", [BIN, "client", "-c", path])
    h.wait_connected("TestClient1")
    wait_for(lambda: "does not serve the client's admin socket" in cl.text(), what="the admin socket warning")
    with open(sock_path) as f:
        assert f.read() == "not a socket\n"
    public = free_port()
    st, body, _ = h.put_tunnels([{"ClientIdentifier": "TestClient1", "ListenPort": public,
                                  "ListenAddress": "127.0.0.1", "ListenHostnameGlob": "*",
                                  "BackEndService": "echo", "HaProxyProxyProtocol": False}])
    assert st == 200, body
    with socket.create_connection(("127.0.0.1", public), timeout=10) as s:
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"ping"


def test_upload_to_a_silent_service(h):
    """Upload only: the service reads 32 MiB without answering until the
    visitor's EOF, then sends its count and digest. The client has nothing
    to send on the stream meanwhile, yet its deferred ACK must reach the
    server (it carries the window beyond the first 256 KiB, without which
    the upload would stop there); four visitors at once, every byte in
    order."""
    size = 32 << 20

    def counter(c):
        d = hashlib.sha256()
        n = 0
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            n += len(b)
            d.update(b)
        c.sendall(f"{n} {d.hexdigest()}".encode())

    be, public, cl = start_gateway(h, handler=counter)
    wait_for(lambda: "deferred-ack" in cl.text(), what="deferred-ack in force")
    payload = hashlib.sha256(b"seed").digest() * (size // 32)

    def one(_):
        with socket.create_connection(("127.0.0.1", public), timeout=30) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            return recv_all(s)

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        answers = list(ex.map(one, range(4)))
    want = f"{size} {hashlib.sha256(payload).hexdigest()}".encode()
    assert answers == [want] * 4
