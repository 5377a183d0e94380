#!/usr/bin/python3
"""Backends and visitors for tests/interop/run-gateway.sh (loopback only).

  backend --mode echo|asd --portfile F [--log F]
      echo: echo every byte until EOF, then close.
      asd:  the usage example's listener.go: parse a PROXY v1 line, log
            "SRC <ip> <port>", read >= 1 byte (<= 4096), log "DATA <hex>",
            answer "asd" and close.
  hello --port P --log F      the usage example's sender.go, then checks
                              the backend log (PROXY source port = ours).
  bulk --port P --n N --size BYTES
                              N concurrent visitors, each sends BYTES random
                              bytes and checks the SHA-256 of the echo.
  unknown --port P            a visitor that must be closed.
Every socket operation has a timeout; exit status 0 = pass.
"""
import argparse
import hashlib
import os
import socket
import sys
import threading
import time

TIMEOUT = 30.0


def log_line(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")
        f.flush()


def read_line(conn, limit=108):
    data = b""
    while not data.endswith(b"\r\n"):
        b = conn.recv(1)
        if not b:
            raise ValueError("EOF in PROXY line")
        data += b
        if len(data) > limit:
            raise ValueError("PROXY line too long")
    return data


def serve_asd(conn, logpath):
    line = read_line(conn)
    parts = line.decode().strip().split(" ")
    if len(parts) != 6 or parts[0] != "PROXY" or parts[1] not in ("TCP4", "TCP6"):
        log_line(logpath, "BAD %r" % line)
        return
    log_line(logpath, "SRC %s %s" % (parts[2], parts[4]))
    data = conn.recv(4096)
    log_line(logpath, "DATA %s" % data.hex())
    conn.sendall(b"asd")


def serve_echo(conn):
    while True:
        b = conn.recv(65536)
        if not b:
            return
        conn.sendall(b)


def handle(conn, mode, logpath):
    try:
        conn.settimeout(TIMEOUT * 4)
        if mode == "asd":
            serve_asd(conn, logpath)
        else:
            serve_echo(conn)
    except Exception as e:  # one visitor's failure is reported by the visitor
        if logpath:
            log_line(logpath, "ERR %s" % e)
    finally:
        conn.close()


def cmd_backend(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(512)
    tmp = a.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, a.portfile)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=handle, args=(conn, a.mode, a.log), daemon=True).start()


def recv_all(s, maxlen=1 << 20):
    out = b""
    while len(out) < maxlen:
        b = s.recv(65536)
        if not b:
            break
        out += b
    return out


def cmd_hello(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=TIMEOUT)
    lport = s.getsockname()[1]
    print("Sender: I am dialing localhost:%d from 127.0.0.1:%d" % (a.port, lport))
    msg = b"Hello ! Hello! \n"
    assert len(msg) == 16
    s.sendall(msg)
    print("Sender: sent 16 bytes")
    got = recv_all(s)
    s.close()
    print("Sender: Response from listener was: %r" % got)
    if got != b"asd":
        print("FAIL: expected b'asd'")
        return 1
    # The backend logs before it answers.
    lines = open(a.log).read().splitlines()
    src = [l for l in lines if l.startswith("SRC ")]
    data = [l for l in lines if l.startswith("DATA ")]
    print("Listener log: %s" % lines)
    if not src or src[-1] != "SRC 127.0.0.1 %d" % lport:
        print("FAIL: PROXY source is not 127.0.0.1:%d" % lport)
        return 1
    if not data or bytes.fromhex(data[-1].split(" ", 1)[1]) != msg:
        print("FAIL: the listener did not get exactly the 16 bytes")
        return 1
    return 0


def one_bulk(port, size, results, i):
    try:
        payload = os.urandom(size)
        want = hashlib.sha256(payload).hexdigest()
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        err = []

        def send():
            try:
                s.sendall(payload)
            except Exception as e:
                err.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        h = hashlib.sha256()
        n = 0
        while n < size:
            b = s.recv(min(65536, size - n))
            if not b:
                break
            h.update(b)
            n += len(b)
        t.join(TIMEOUT)
        s.close()
        if err:
            results[i] = "send: %s" % err[0]
        elif n != size:
            results[i] = "got %d of %d bytes" % (n, size)
        elif h.hexdigest() != want:
            results[i] = "sha256 mismatch"
        else:
            results[i] = "ok"
    except Exception as e:
        results[i] = "error: %s" % e


def cmd_bulk(a):
    results = [None] * a.n
    threads = [threading.Thread(target=one_bulk, args=(a.port, a.size, results, i), daemon=True)
               for i in range(a.n)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 4)
    bad = [(i, r) for i, r in enumerate(results) if r != "ok"]
    print("bulk: %d visitors x %d bytes in %.2fs, %d failed" % (a.n, a.size, time.time() - t0, len(bad)))
    for i, r in bad[:10]:
        print("  visitor %d: %s" % (i, r))
    return 1 if bad else 0


def cmd_unknown(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=TIMEOUT)
    s.sendall(b"anyone there?\n")
    try:
        got = recv_all(s)
    except ConnectionResetError:
        got = b""
    s.close()
    if got:
        print("FAIL: unknown service answered %r" % got)
        return 1
    print("unknown: closed without an answer")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("backend")
    b.add_argument("--mode", choices=("echo", "asd"), required=True)
    b.add_argument("--portfile", required=True)
    b.add_argument("--log", default="")
    h = sub.add_parser("hello")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--log", required=True)
    k = sub.add_parser("bulk")
    k.add_argument("--port", type=int, required=True)
    k.add_argument("--n", type=int, default=50)
    k.add_argument("--size", type=int, default=1 << 20)
    u = sub.add_parser("unknown")
    u.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    return {"backend": cmd_backend, "hello": cmd_hello, "bulk": cmd_bulk, "unknown": cmd_unknown}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
