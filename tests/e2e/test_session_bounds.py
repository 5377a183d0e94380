"""A control session whose peer never reads stops being read (issue 10 item 2).

Each hostile connection does the CONNECT a client does, then sends yamux pings
and never reads a byte: every ping makes the server queue a 12-byte answer.
Without a bound the server would queue all of them (one per ping, 48 MB per
connection here); with it, reading stops once ~2 MiB of answers wait, and a
session held for its dead-peer time is closed."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from conftest import fd_count, rss_kib, wait_for  # noqa: E402
import hostile  # noqa: E402

N = 5
PINGS = 4_000_000  # 48 MB of pings per connection: more than the kernel buffers absorb


def test_peer_that_never_reads_is_held_then_closed(h):
    srv = h.server({"DeadPeerSeconds": 3, "KeepAliveSeconds": 1})
    pid = srv.p.pid
    fds0, rss0 = fd_count(pid), rss_kib(pid)
    horde = hostile.Horde("ping_no_read", "127.0.0.1", h.control_port, N, deadline=60,
                          frames=PINGS)
    try:
        horde.start()
        # The server stops reading each session: the attackers cannot hand
        # over their pings, and the sessions are closed in the end.
        horde.run_until(lambda k: "input held" in srv.text(), 30)
        assert "input held" in srv.text()
        peak = rss_kib(pid)
        horde.run_until(lambda k: k["open"] == 0, 40)
        k = horde.counts()
        assert k["open"] == 0, k
        total = N * (len(hostile.connect_head("hostile0")) + 12 * PINGS)
        assert k["sent"] < total // 2, k  # most pings were never read
        # Answers for what was read stay bounded: far below the 240 MB an
        # unbounded queue would hold (12 bytes per ping of 5 x 4 M pings).
        assert peak - rss0 < 96 * 1024, (rss0, peak)
        assert "peer read nothing" in srv.text() or "keepalive" in srv.text()
    finally:
        horde.close()
    wait_for(lambda: fd_count(pid) <= fds0, timeout=15, what="fds back to baseline")
    # The gateway still serves.
    assert h.http("GET", "/ping")[0] == 200
