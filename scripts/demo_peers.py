#!/usr/bin/env python3
"""The usage example's two small programs (go-original.md §9), in Python.

  demo_peers.py listener PORT   accept connections; parse the PROXY v1 line;
                                print who connected and what was sent;
                                answer "asd"; close. Prints "ready" once
                                listening.
  demo_peers.py sender PORT     dial localhost:PORT, send the 16 bytes
                                "Hello ! Hello! \\n", print the answer.
Output lines match the Go original's listener.go and sender.go.
"""
import socket
import sys


def listener(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print("Listener: ready", flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(30)
            data = b""
            while b"\r\n" not in data and len(data) < 108:
                chunk = conn.recv(108 - len(data))
                if not chunk:
                    break
                data += chunk
            line, _, rest = data.partition(b"\r\n")
            parts = line.decode("ascii", "replace").split(" ")
            if len(parts) != 6 or parts[0] != "PROXY":
                print(f"Listener: no PROXY header, got {line!r}", flush=True)
                continue
            src, sport = parts[2], parts[4]
            who = f"[{src}]:{sport}" if ":" in src else f"{src}:{sport}"
            print(f"Listener: Someone connected from: {who}", flush=True)
            while not rest:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                rest += chunk
            print(f"Listener: read {len(rest)} bytes", flush=True)
            print(f"Listener: the sender sent: {rest.decode('utf-8', 'replace')}", flush=True)
            print('Listener: I am going to respond with "asd"', flush=True)
            conn.sendall(b"asd")
            print("Listener: conn.Close()", flush=True)


def sender(port):
    s = socket.create_connection(("localhost", port), timeout=30)
    local = s.getsockname()
    print(f"Sender: I am dialing localhost:{port} from {local[0]}:{local[1]}", flush=True)
    msg = b"Hello ! Hello! \n"
    s.sendall(msg)
    print(f"Sender: sent {len(msg)} bytes", flush=True)
    data = b""
    while not data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print(f"Sender: read {len(data)} bytes", flush=True)
    print(f"Sender: Response from listener was: {data.decode('utf-8', 'replace')}", flush=True)
    return 0 if data == b"asd" else 1


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "listener":
        listener(port)
    else:
        sys.exit(sender(port))
