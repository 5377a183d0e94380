"""Hostile connections against a running threshold server, loopback only.

A Horde opens and holds N connections of one kind against host:port, all
nonblocking, from this one process with one selector loop, and closes them
all on request. It is driven by the caller: nothing here runs in the
background, and every loop is bounded by N, by a byte count or by a
deadline (Horde(deadline=...) caps the horde's whole life).

Kinds (KINDS):
  idle           TCP connect, send nothing.
  visitors_idle  the same, meant for a public tunnel port.
  slow_head      an HTTP request head, one byte every `slow_interval` seconds,
                 never finished (no blank line ever comes).
  big_body       a complete `PUT /tunnels` (or `method`/`path`) head with
                 Content-Length: `body_size` (1 MiB), the body as fast as the
                 server takes it, then wait without closing.
  half_tls       the first half of a real TLS ClientHello (made by the ssl
                 module into a memory BIO), then wait.
  ping_no_read   for a plaintext control port: `CONNECT /_controlPath/` with an
                 identifier (one per connection), then `frames` yamux pings
                 (type 2, flag SYN, stream 0, opaque counter), never reading a
                 byte, so the server's answers pile up on its side.
  syn_no_read    the same CONNECT, then `frames` yamux window updates with the
                 SYN flag for new odd stream ids (1, 3, 5, ...), never reading.

Counts (Horde.counts()): `open` (connected and not closed), `connecting`,
`refused` (connect failed, or the server reset the connection), `closed`
(the server closed it in order: FIN/EOF), with the raw reasons
(`connect_failed`, `reset`, `eof`) and `sent` (bytes the server took).
A connection is never reopened.

Kinds that read (all but the *_no_read ones) read and discard what the
server sends; the *_no_read kinds never call recv() and learn of a close
from the kernel's TCP state (TCP_INFO), checked every `sweep_interval`.

Python 3 standard library only; imported by pytest tests and bench/attack.py.
"""
import errno
import ipaddress
import resource
import selectors
import socket
import ssl
import struct
import time

KINDS = ("idle", "visitors_idle", "slow_head", "big_body", "half_tls", "ping_no_read", "syn_no_read")
NO_READ = ("ping_no_read", "syn_no_read")

# Linux TCP states (include/net/tcp_states.h), first byte of struct tcp_info.
_TCP_ESTABLISHED = 1
_TCP_CLOSE = 7
_TCP_CLOSE_WAIT = 8

_SLOW_HEAD = b"GET /tunnels HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\nX-Slow: "
_SEND_CHUNK = 256 * 1024


def raise_nofile(need):
    """Raise this process's soft RLIMIT_NOFILE to at least `need` (capped by
    the hard limit); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def client_hello(server_hostname="localhost"):
    """The bytes of a real TLS ClientHello, as this Python's OpenSSL sends it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def connect_head(ident):
    return (f"CONNECT /_controlPath/ HTTP/1.1\r\nHost: x\r\n"
            f"X-Threshold-Identifier: {ident}\r\n\r\n").encode()


def yamux_pings(count):
    """`count` yamux ping frames: version 0, type 2, flags SYN, stream 0, opaque i."""
    return b"".join(struct.pack(">BBHII", 0, 2, 1, 0, i) for i in range(count))


def yamux_syns(count):
    """`count` window updates with SYN for new odd stream ids 1, 3, 5, ..."""
    return b"".join(struct.pack(">BBHII", 0, 1, 1, 2 * i + 1, 0) for i in range(count))


class _Conn:
    __slots__ = ("sock", "state", "out", "off", "next_at", "slow_i", "mask")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"  # connecting, open, refused, closed
        self.out = b""             # what is still to send (bytes or memoryview)
        self.off = 0
        self.next_at = 0.0         # slow_head: when the next byte goes
        self.slow_i = 0
        self.mask = 0


class Horde:
    """N hostile connections of one kind; see the module docstring.

    Use: h = Horde("idle", "127.0.0.1", port, 1000, deadline=30); h.start();
    h.run(5); print(h.counts()); h.close(). Also a context manager."""

    def __init__(self, kind, host, port, n, deadline=60.0, *, ident="hostile",
                 server_hostname="localhost", slow_interval=2.0, frames=10000,
                 body_size=1 << 20, method="PUT", path="/tunnels",
                 sweep_interval=0.5, connect_timeout=10.0):
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        if n < 0 or deadline <= 0:
            raise ValueError("n must be >= 0 and deadline > 0")
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"{host}: hostile connections go to loopback only")
        self.kind, self.host, self.port, self.n = kind, host, port, n
        self.ident = ident
        self.slow_interval = slow_interval
        self.sweep_interval = sweep_interval
        self.connect_timeout = connect_timeout
        self.end = time.monotonic() + deadline
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.raw = {"connect_failed": 0, "reset": 0, "eof": 0}
        self.sent = 0
        self.started_at = None
        self._next_sweep = 0.0
        self._shared = None
        self._frames = None
        if kind == "big_body":
            head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {body_size}\r\n\r\n").encode()
            self._shared = memoryview(head + b" " * body_size)
        elif kind == "half_tls":
            hello = client_hello(server_hostname)
            self._shared = memoryview(hello[:len(hello) // 2])
        elif kind == "ping_no_read":
            self._frames = yamux_pings(frames)
        elif kind == "syn_no_read":
            self._frames = yamux_syns(frames)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        """Open all N connections (nonblocking connects; nothing waits here)."""
        raise_nofile(self.n + 100 + len(self.conns))
        self.started_at = time.monotonic()
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for i in range(self.n):
            try:
                s = socket.socket(fam, socket.SOCK_STREAM)
            except OSError:
                self.raw["connect_failed"] += 1  # out of descriptors here
                c = _Conn(None)
                c.state = "refused"
                self.conns.append(c)
                continue
            s.setblocking(False)
            c = _Conn(s)
            c.out = self._payload(i)
            self.conns.append(c)
            rc = s.connect_ex((self.host, self.port))
            if rc not in (0, errno.EINPROGRESS, errno.EAGAIN):
                self._finish(c, "refused", "connect_failed")
                continue
            self._watch(c, selectors.EVENT_WRITE)
        return self

    def close(self):
        """Close every connection (ours, abortive: the server sees a reset if
        it still has data for us). Idempotent."""
        for c in self.conns:
            if c.sock is not None:
                self._unwatch(c)
                try:
                    c.sock.close()
                except OSError:
                    pass
                c.sock = None
        self.sel.close()
        self.sel = selectors.DefaultSelector()

    # ------------------------------------------------------------ driving

    def run(self, seconds):
        """Drive the connections for `seconds` (never past the deadline)."""
        stop = min(time.monotonic() + seconds, self.end)
        while True:
            now = time.monotonic()
            if now >= stop:
                return
            self.step(min(stop - now, 0.1))

    def run_until(self, pred, seconds):
        """Drive until pred(counts) is true or `seconds` pass; returns pred's last value."""
        stop = min(time.monotonic() + seconds, self.end)
        while True:
            ok = pred(self.counts())
            if ok or time.monotonic() >= stop:
                return ok
            self.step(min(stop - time.monotonic(), 0.1))

    def settle(self, seconds=None):
        """Drive until no connection is still connecting (bounded)."""
        t = self.connect_timeout if seconds is None else seconds
        return self.run_until(lambda k: k["connecting"] == 0, t)

    def step(self, timeout):
        """One selector round, at most `timeout` seconds."""
        now = time.monotonic()
        if now >= self.end:
            return
        timeout = max(0.0, min(timeout, self.end - now))
        if self.kind == "slow_head":
            due = [c.next_at for c in self.conns if c.state == "open" and c.sock is not None]
            if due:
                timeout = max(0.0, min(timeout, min(due) - now))
        if self.sel.get_map():
            for key, ev in self.sel.select(timeout):
                c = key.data
                if c.state == "connecting":
                    self._connected(c)
                    continue
                if ev & selectors.EVENT_READ:
                    self._readable(c)
                if ev & selectors.EVENT_WRITE and c.state == "open":
                    self._send(c)
        elif timeout > 0:
            time.sleep(timeout)
        now = time.monotonic()
        if self.kind == "slow_head":
            self._slow_bytes(now)
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            self._sweep(now)

    # ------------------------------------------------------------ counts

    def counts(self):
        k = {"kind": self.kind, "n": self.n, "open": 0, "connecting": 0, "refused": 0, "closed": 0}
        for c in self.conns:
            k[c.state] += 1
        k.update(self.raw)
        k["sent"] = self.sent
        return k

    # ------------------------------------------------------------ internals

    def _payload(self, i):
        if self._shared is not None:
            return self._shared
        if self._frames is not None:
            return memoryview(connect_head(f"{self.ident}{i}") + self._frames)
        return b""

    def _watch(self, c, mask):
        if c.mask == mask:
            return
        if c.mask == 0:
            self.sel.register(c.sock, mask, c)
        elif mask == 0:
            self.sel.unregister(c.sock)
        else:
            self.sel.modify(c.sock, mask, c)
        c.mask = mask

    def _unwatch(self, c):
        if c.sock is not None and c.mask:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError, OSError):
                pass
        c.mask = 0

    def _finish(self, c, state, why):
        self.raw[why] += 1
        c.state = state
        self._unwatch(c)
        if c.sock is not None:
            try:
                c.sock.close()
            except OSError:
                pass
            c.sock = None

    def _lost(self, c, err):
        """The connection died under us: a reset is a refusal, anything else a close."""
        if err in (errno.ECONNRESET, errno.EPIPE, errno.ECONNREFUSED):
            self._finish(c, "refused", "reset")
        else:
            self._finish(c, "closed", "eof")

    def _base_mask(self):
        return 0 if self.kind in NO_READ else selectors.EVENT_READ

    def _connected(self, c):
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._finish(c, "refused", "connect_failed")
            return
        c.state = "open"
        if self.kind == "slow_head":
            # Spread the first bytes over one interval so they do not come in bursts.
            c.next_at = time.monotonic() + self.slow_interval * (id(c) % 997) / 997.0
        mask = self._base_mask()
        if len(c.out) > c.off:
            mask |= selectors.EVENT_WRITE
        self._watch(c, mask)
        if mask & selectors.EVENT_WRITE:
            self._send(c)

    def _send(self, c):
        while c.off < len(c.out):
            try:
                k = c.sock.send(c.out[c.off:c.off + _SEND_CHUNK])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._lost(c, e.errno)
                return
            c.off += k
            self.sent += k
        c.out, c.off = b"", 0  # all sent: drop our reference, wait
        self._watch(c, self._base_mask())

    def _readable(self, c):
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._lost(c, e.errno)
            return
        if not data:
            self._finish(c, "closed", "eof")

    def _slow_bytes(self, now):
        for c in self.conns:
            if c.state != "open" or c.sock is None or now < c.next_at:
                continue
            b = _SLOW_HEAD[c.slow_i:c.slow_i + 1] or b"a"
            try:
                k = c.sock.send(b)
            except (BlockingIOError, InterruptedError):
                k = 0
            except OSError as e:
                self._lost(c, e.errno)
                continue
            c.slow_i += k
            self.sent += k
            c.next_at = now + self.slow_interval

    def _sweep(self, now):
        """Closes the selector cannot show (kinds that never read), and
        connects that took longer than connect_timeout."""
        late = self.started_at is not None and now - self.started_at > self.connect_timeout
        for c in self.conns:
            if c.sock is None:
                continue
            if c.state == "connecting":
                if late:
                    self._finish(c, "refused", "connect_failed")
                continue
            if self.kind not in NO_READ:
                continue
            try:
                st = c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
            except OSError as e:
                self._lost(c, e.errno)
                continue
            if st == _TCP_CLOSE_WAIT:
                self._finish(c, "closed", "eof")
            elif st == _TCP_CLOSE:
                self._finish(c, "refused", "reset")
            elif st != _TCP_ESTABLISHED:
                pass  # FIN_WAIT etc.: not ours to close yet


def hold(kind, host, port, n, seconds, **kw):
    """Open n connections of `kind`, hold them `seconds`, close; returns the
    counts at the end of the hold."""
    h = Horde(kind, host, port, n, deadline=seconds + kw.get("connect_timeout", 10.0) + 1, **kw)
    try:
        h.start()
        h.settle()
        h.run(seconds)
        return h.counts()
    finally:
        h.close()
