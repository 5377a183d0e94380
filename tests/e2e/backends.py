"""Small TCP backends for the end-to-end tests (threads, loopback only)."""
import socket
import threading


class Backend:
    """Accepts connections and runs handler(conn) for each in a thread."""

    def __init__(self, handler, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns = 0
        self.lock = threading.Lock()
        self.closed = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(60)
            self.handler(c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def echo(c):
    """Echo until EOF, then half-close: the answer ends when the input did."""
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)


def recv_all(s, limit=1 << 30):
    """Reads until EOF (or `limit` bytes); returns what came."""
    out = bytearray()
    while len(out) < limit:
        d = s.recv(1 << 20)
        if not d:
            break
        out += d
    return bytes(out)


def drain_until_closed(s):
    """Reads and drops until the peer closes, by EOF or by reset."""
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass


def read_proxy_line(c):
    """Reads a PROXY v1 line byte by byte; returns (line, rest=b'')."""
    line = b""
    while not line.endswith(b"\r\n") and len(line) < 108:
        b = c.recv(1)
        if not b:
            break
        line += b
    return line
