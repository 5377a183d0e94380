"""The front door's pools (issue 10 item 3): the management API never shares
slots with the control port, and one source cannot take the control port's
pre-authentication pool; every refusal is logged and the connection closed at
once."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
from conftest import fd_count, wait_for  # noqa: E402
import hostile  # noqa: E402


def test_admin_answered_while_control_pool_is_full(h):
    srv = h.server({"MaxPreAuthConnections": 50, "MaxPreAuthPerSource": 1000})
    pid = srv.p.pid
    fds0 = fd_count(pid)
    with hostile.Horde("idle", "127.0.0.1", h.control_port, 200, deadline=60) as horde:
        horde.run_until(lambda k: k["closed"] + k["refused"] >= 150, 20)
        horde.settle(1.0)
        k = horde.counts()
        # 50 held, the other 150 closed by the server at once.
        assert k["open"] == 50, k
        assert k["closed"] + k["refused"] == 150, k
        assert "refused: 50 not yet authenticated (MaxPreAuthConnections)" in srv.text()
        # The management port is another pool: every request is answered.
        for _ in range(20):
            assert h.http("GET", "/ping")[0] == 200
    wait_for(lambda: fd_count(pid) <= fds0, timeout=15, what="fds back to baseline")
    # Slots come back: a control connection is accepted again.
    s = socket.create_connection(("127.0.0.1", h.control_port), timeout=5)
    s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(64).startswith(b"HTTP/1.1 ")
    s.close()


def test_one_source_cannot_take_the_pool(h):
    srv = h.server({"MaxPreAuthPerSource": 10})
    with hostile.Horde("slow_head", "127.0.0.1", h.control_port, 40, deadline=60) as horde:
        horde.run_until(lambda k: k["closed"] + k["refused"] >= 30, 20)
        horde.settle(1.0)
        k = horde.counts()
        assert k["open"] == 10, k
        assert "(MaxPreAuthPerSource)" in srv.text()
        # Another source address (127.0.0.2) still gets in.
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", h.control_port))
        s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 ")
        s.close()
    # 30 refusals, but the log line is rate-limited (10 per second).
    assert srv.text().count("(MaxPreAuthPerSource)") <= 11


def test_management_pool_has_its_own_cap(h):
    srv = h.server({"MaxManagementConnections": 5})
    with hostile.Horde("idle", "127.0.0.1", h.mgmt_port, 5, deadline=60) as horde:
        horde.run_until(lambda k: k["open"] == 5, 20)
        s = socket.create_connection(("127.0.0.1", h.mgmt_port), timeout=5)
        # Refused at once: closed without an answer.
        assert s.recv(64) == b""
        s.close()
        assert "(MaxManagementConnections)" in srv.text()
    wait_for(lambda: h.http("GET", "/ping")[0] == 200, what="management back")
