#!/usr/bin/env python3
"""The cost of hostile connections to a running threshold server (loopback only).

Starts nothing: given the server's pid, its control port, a public tunnel
port that leads to an echo backend and the management URL, it runs each
hostile kind of tests/e2e/hostile.py with N connections (default 1000) and,
while the attack holds, measures:
  - the server's RSS (VmRSS of /proc/PID/status): before, peak, and after
    the attackers closed and the server's descriptors came back (at most
    --settle seconds, then 1 s more);
  - its descriptors (/proc/PID/fd): before, peak, after;
  - the management API: 20 GETs of /ping (4 at a time, --admin-timeout
    each): how many got a 200;
  - a good visitor: 3 times, connect to the tunnel port, send a line, read
    the echo (--visitor-timeout each).
Everything is bounded: per kind at most connect-timeout + hold + the probes'
worst case (about 5 s + 6 s) + settle.

Rows go to stdout as the run goes; --markdown FILE writes the table as
markdown too ("-" for stdout). Exit status 0 whatever the server did (a bad
figure is a result, not an error); 2 for bad arguments, 3 if the server was
gone before the first kind.

Example:
  bench/attack.py --pid 1234 --control-port 9000 --tunnel-port 9100 \\
      --mgmt-url http://127.0.0.1:9001 -n 1000 --kinds idle,big_body
"""
import argparse
import concurrent.futures
import os
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import hostile  # noqa: E402

DEFAULT_KINDS = "idle,slow_head,big_body,half_tls,ping_no_read,syn_no_read,visitors_idle"
ADMIN_REQUESTS = 20
ADMIN_PARALLEL = 4
VISITOR_TRIES = 3


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def mib(kib):
    return "—" if kib is None else f"{kib / 1024:.1f}"


class Probes(threading.Thread):
    """The admin requests and the good visitors, in a thread of their own so
    that the attack's selector loop keeps running meanwhile."""

    def __init__(self, args, ssl_ctx):
        super().__init__(daemon=True)
        self.args, self.ssl_ctx = args, ssl_ctx
        self.admin_ok = 0
        self.admin_other = 0   # an HTTP answer other than 200
        self.visitor_ok = 0
        self.errors = {}

    def _err(self, what, e):
        k = f"{what}: {type(e).__name__}"
        self.errors[k] = self.errors.get(k, 0) + 1

    def _admin_one(self, _i):
        url = self.args.mgmt_url.rstrip("/") + "/ping"
        try:
            with urllib.request.urlopen(url, timeout=self.args.admin_timeout, context=self.ssl_ctx) as r:
                r.read(4096)
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, ssl.SSLError, ValueError) as e:
            self._err("admin", e)
            return None

    def _visitor_one(self, i):
        line = f"good visitor {i} {time.monotonic_ns()}\n".encode()
        end = time.monotonic() + self.args.visitor_timeout
        try:
            with socket.create_connection((self.args.host, self.args.tunnel_port),
                                          timeout=self.args.visitor_timeout) as s:
                s.sendall(line)
                got = b""
                while len(got) < len(line):
                    left = end - time.monotonic()
                    if left <= 0:
                        raise TimeoutError("echo not back in time")
                    s.settimeout(left)
                    d = s.recv(len(line) - len(got))
                    if not d:
                        raise ConnectionError("closed before the echo")
                    got += d
                return got == line
        except OSError as e:
            self._err("visitor", e)
            return False

    def run(self):
        with concurrent.futures.ThreadPoolExecutor(ADMIN_PARALLEL) as ex:
            admin = ex.map(self._admin_one, range(ADMIN_REQUESTS))
            if self.args.tunnel_port:
                self.visitor_ok = sum(1 for i in range(VISITOR_TRIES) if self._visitor_one(i))
            for st in admin:
                if st == 200:
                    self.admin_ok += 1
                elif st is not None:
                    self.admin_other += 1


def attack_one(kind, args, ssl_ctx):
    pid = args.pid
    port = args.control_port
    if kind == "visitors_idle":
        port = args.tunnel_port
    elif kind == "half_tls" and args.tls_port:
        port = args.tls_port
    row = {"kind": kind, "n": args.n if kind != "none" else 0, "port": port}
    row["rss0"], row["fd0"] = rss_kib(pid), fd_count(pid)
    peak_rss, peak_fd = row["rss0"] or 0, row["fd0"] or 0
    hold = args.hold
    h = None
    if kind != "none":
        if not port:
            row["note"] = "no port for this kind"
            return row
        h = hostile.Horde(kind, args.host, port, args.n,
                          deadline=args.connect_timeout + hold + 20,
                          connect_timeout=args.connect_timeout,
                          frames=args.syn_frames if kind == "syn_no_read" else args.frames,
                          slow_interval=args.slow_interval)
    t0 = time.monotonic()
    next_sample = 0.0
    probes = None
    settled_at = None
    try:
        if h is not None:
            h.start()
        hard_end = t0 + args.connect_timeout + hold + 20
        while True:
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + 0.1
                peak_rss = max(peak_rss, rss_kib(pid) or 0)
                peak_fd = max(peak_fd, fd_count(pid) or 0)
            if settled_at is None:
                connecting = h.counts()["connecting"] if h is not None else 0
                if connecting == 0 or now - t0 >= args.connect_timeout:
                    settled_at = now
                    row["setup_s"] = now - t0
                    probes = Probes(args, ssl_ctx)
                    probes.start()
            elif (now - settled_at >= hold and not probes.is_alive()) or now >= hard_end:
                break
            if h is not None:
                h.step(0.05)
            else:
                time.sleep(0.05)
        if h is not None:
            row["counts"] = h.counts()
    finally:
        if h is not None:
            h.close()
    if probes is not None:
        probes.join(5)
        row["admin"] = probes.admin_ok
        row["admin_other"] = probes.admin_other
        row["visitor"] = probes.visitor_ok
        row["probe_errors"] = probes.errors
    row["rss_peak"], row["fd_peak"] = peak_rss, peak_fd
    # After: descriptors back to (about) the baseline, then 1 s for memory.
    end = time.monotonic() + args.settle
    while time.monotonic() < end and alive(pid):
        fd = fd_count(pid)
        if fd is None or row["fd0"] is None or fd <= row["fd0"] + 2:
            break
        time.sleep(0.1)
    else:
        if alive(pid) and kind != "none":
            row["note"] = f"fds still {fd_count(pid)} (before: {row['fd0']}) {args.settle:g} s after the close"
    time.sleep(1)
    row["rss1"], row["fd1"] = rss_kib(pid), fd_count(pid)
    if not alive(pid):
        row["note"] = "the server exited"
    return row


HEAD = ["kind", "N held", "refused/closed", "MiB sent", "RSS before/peak/after MiB", "fds before/peak/after",
        "admin answered", "good visitor"]


def cells(r):
    k = r.get("counts")
    held = f"{k['open']}/{r['n']}" if k else ("0" if r["kind"] == "none" else "—")
    rc = f"{k['refused']}/{k['closed']}" if k else "—"
    sent = f"{k['sent'] / 1048576:.1f}" if k else "—"
    rss = f"{mib(r.get('rss0'))} / {mib(r.get('rss_peak'))} / {mib(r.get('rss1'))}"
    fds = f"{r.get('fd0', '—')} / {r.get('fd_peak', '—')} / {r.get('fd1', '—')}"
    if "admin" in r:
        admin = f"{r['admin']}/{ADMIN_REQUESTS}"
        if r.get("admin_other"):
            admin += f" (+{r['admin_other']} not 200)"
    else:
        admin = "—"
    if "visitor" in r:
        v = r["visitor"]
        visitor = ("ok" if v == VISITOR_TRIES else "failed") + f" {v}/{VISITOR_TRIES}"
    else:
        visitor = "—"
    return [r["kind"], held, rc, sent, rss, fds, admin, visitor]


def notes(r):
    out = []
    if r.get("note"):
        out.append(r["note"])
    if r.get("probe_errors"):
        out.append(", ".join(f"{k} x{v}" for k, v in sorted(r["probe_errors"].items())))
    k = r.get("counts")
    if k and k["connecting"]:
        out.append(f"{k['connecting']} still connecting after {r.get('setup_s', 0):.1f} s")
    return "; ".join(out)


def text_row(c):
    w = [14, 10, 14, 8, 26, 20, 16, 12]
    return "  ".join(x.ljust(w[i]) for i, x in enumerate(c))


def markdown(rows, args):
    lines = ["| " + " | ".join(HEAD) + " |", "|---|" + "---:|" * (len(HEAD) - 1)]
    for r in rows:
        lines.append("| " + " | ".join(cells(r)) + " |")
    ns = [f"- {r['kind']}: {notes(r)}" for r in rows if notes(r)]
    if ns:
        lines += ["", "Notes:", ""] + ns
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, required=True, help="the threshold server's pid")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--tunnel-port", type=int, default=0, help="public tunnel port to an echo backend")
    ap.add_argument("--tls-port", type=int, default=0, help="port for half_tls (default: the control port)")
    ap.add_argument("--mgmt-url", required=True, help="e.g. http://127.0.0.1:9001")
    ap.add_argument("--ca"), ap.add_argument("--cert"), ap.add_argument("--key")
    ap.add_argument("-n", type=int, default=1000, help="connections per kind (default 1000)")
    ap.add_argument("--kinds", default=DEFAULT_KINDS, help=f"comma-separated (default {DEFAULT_KINDS}); "
                    "'none' is a baseline row without attackers")
    ap.add_argument("--hold", type=float, default=3.0, help="seconds the attack holds after connecting")
    ap.add_argument("--connect-timeout", type=float, default=5.0)
    ap.add_argument("--admin-timeout", type=float, default=1.0)
    ap.add_argument("--visitor-timeout", type=float, default=2.0)
    ap.add_argument("--settle", type=float, default=10.0, help="max seconds to wait for fds to come back")
    ap.add_argument("--frames", type=int, default=10000, help="yamux pings per ping_no_read connection")
    ap.add_argument("--syn-frames", type=int, default=1000,
                    help="yamux SYNs per syn_no_read connection (each costs the server a log line today)")
    ap.add_argument("--slow-interval", type=float, default=2.0)
    ap.add_argument("--markdown", help="also write the table as markdown here ('-': stdout)")
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    bad = [k for k in kinds if k != "none" and k not in hostile.KINDS]
    if bad or args.n < 0 or args.n > 100000:
        ap.error(f"unknown kinds {bad}" if bad else "-n must be 0..100000")
    if not args.host.startswith("127.") and args.host not in ("::1", "localhost"):
        ap.error("loopback only")
    if not alive(args.pid):
        print(f"attack: no live process {args.pid}", file=sys.stderr)
        return 3
    limit = hostile.raise_nofile(args.n + 200)
    if limit < args.n + 100:
        print(f"attack: RLIMIT_NOFILE is {limit}, {args.n} connections need about {args.n + 100}",
              file=sys.stderr)
    ssl_ctx = None
    if args.mgmt_url.startswith("https:"):
        ssl_ctx = ssl.create_default_context(cafile=args.ca)
        if args.cert:
            ssl_ctx.load_cert_chain(args.cert, args.key)
    print(text_row(HEAD), flush=True)
    rows = []
    for kind in kinds:
        if not alive(args.pid):
            rows.append({"kind": kind, "n": args.n, "note": "not run: the server had exited"})
        else:
            rows.append(attack_one(kind, args, ssl_ctx))
        r = rows[-1]
        print(text_row(cells(r)) + (f"  [{notes(r)}]" if notes(r) else ""), flush=True)
    if args.markdown:
        md = markdown(rows, args)
        if args.markdown == "-":
            sys.stdout.write(md)
        else:
            with open(args.markdown, "w") as f:
                f.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
