#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""peer.py - run commands on guest B of a two-guest rig (run.sh --pair).

Guest B runs `peer.py serve`: it listens on its link address and runs what
guest A asks, streaming the output back. On guest A:

  peer.py run [--timeout S] -- CMD [ARGS...]
      CMD on guest B (same working directory and environment as here, plus
      guest B's own rig variables); its output is copied here, and the exit
      status is CMD's.
  peer.py pair [--timeout S] -- PROG [ARGS...]
      a two-host program (the --side=both|a|b convention): `PROG --side=b`
      on guest B and `PROG --side=a` here, both with SANVERBS_IP_A/B,
      SANVERBS_RXE_A/B and SANVERBS_NS_A/B naming the two guests' link
      devices. Prints both exit statuses; exits 0 only if both are 0 (else
      side A's status if it failed, else side B's).

Both are bounded: the command is killed after --timeout seconds (default
1500 for run, 600 for pair), and a guest B that stops answering is reported
(status 125) instead of waited for. Guest B only: /usr/bin/python3 is used
because a pyenv shim costs 25-35 s per start under TCG.

Wire format (TCP, guest link only): one JSON line of request, then frames
of 1 type byte + 4-byte big-endian length + data: 'O' output bytes, 'X' the
JSON result {"rc": N, "kernel": ...}; from A, 'K' kills the command.
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

PORT = int(os.environ.get("SANVERBS_PEERD_PORT", "47990"))


def frame(kind, data):
    return kind + struct.pack(">I", len(data)) + data


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        got = sock.recv(n - len(buf))
        if not got:
            raise EOFError
        buf += got
    return buf


# ------------------------------------------------------------------ guest B

def handle(conn):
    rfile = conn.makefile("rb")
    try:
        req = json.loads(rfile.readline())
        # guest A's environment (meson's per-test variables, PATH, ...),
        # with guest B's own rig variables (its devices, addresses, kernel)
        # winning, except those the request sets on purpose (the pair's)
        env = dict(req.get("env", {}))
        env.update({k: v for k, v in os.environ.items() if k.startswith("SANVERBS_")})
        env.update({k: req["env"][k] for k in req.get("force", [])})
        proc = subprocess.Popen(req["argv"], cwd=req.get("cwd") or "/",
                                env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except Exception as e:  # noqa: BLE001 - report anything back to A
        conn.sendall(frame(b"O", f"peer.py: cannot run: {e}\n".encode()))
        conn.sendall(frame(b"X", json.dumps({"rc": 127}).encode()))
        conn.close()
        return
    deadline = time.monotonic() + float(req.get("timeout", 1500))
    killed = None

    def kill(why):
        nonlocal killed
        if killed is None:
            killed = why
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass

    out = proc.stdout.fileno()
    while True:
        r, _, _ = select.select([out, conn], [], [], 1.0)
        if out in r:
            data = os.read(out, 65536)
            if not data:
                break
            try:
                conn.sendall(frame(b"O", data))
            except OSError:
                kill("guest A went away")
        if conn in r:
            # anything from A ('K' or end of file) means stop
            kill("guest A asked")
        if time.monotonic() > deadline:
            kill("timed out")
    rc = proc.wait()
    res = {"rc": rc if rc >= 0 else 128 - rc, "kernel": os.uname().release}
    if killed:
        res["killed"] = killed
    try:
        conn.sendall(frame(b"X", json.dumps(res).encode()))
    except OSError:
        pass
    conn.close()


def serve(stop_file):
    addr = os.environ["SANVERBS_LINK_IP_B"]
    srv = socket.create_server((addr, PORT))
    srv.settimeout(0.5)
    print(f"peer.py: serving on {addr}:{PORT}", flush=True)
    while not os.path.exists(stop_file):
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        conn.settimeout(None)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()
    return 0


# ------------------------------------------------------------------ guest A

def connect(wait_s=60):
    host = os.environ.get("SANVERBS_PEER_HOST")
    if not host:
        sys.exit("peer.py: SANVERBS_PEER_HOST not set (run under run.sh --pair)")
    end = time.monotonic() + wait_s
    while True:
        try:
            return socket.create_connection((host, PORT), timeout=5)
        except OSError as e:
            if time.monotonic() > end:
                raise SystemExit(f"peer.py: guest B ({host}:{PORT}) does not answer: {e}")
            time.sleep(0.5)


class Remote:
    """One command on guest B, its output copied to @sink as it comes."""

    def __init__(self, argv, timeout, env_force=None, prefix=b""):
        self.sock = connect()
        self.sock.settimeout(None)
        env = dict(os.environ)
        env.update(env_force or {})
        req = {"argv": argv, "cwd": os.getcwd(), "env": env,
               "force": sorted(env_force or {}), "timeout": timeout}
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        self.prefix = prefix
        self.result = None
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        sink = sys.stderr.buffer if self.prefix else sys.stdout.buffer
        pending = b""
        try:
            while True:
                kind = read_exact(self.sock, 1)
                (n,) = struct.unpack(">I", read_exact(self.sock, 4))
                data = read_exact(self.sock, n)
                if kind == b"X":
                    self.result = json.loads(data)
                    break
                if not self.prefix:
                    sink.write(data)
                    sink.flush()
                    continue
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    sink.write(self.prefix + line + b"\n")
                sink.flush()
        except (EOFError, OSError):
            self.result = {"rc": 125, "lost": True}
        if pending:
            sink.write(self.prefix + pending + b"\n")
            sink.flush()

    def wait(self, timeout):
        self.thread.join(timeout)
        return self.result

    def kill(self):
        try:
            self.sock.sendall(b"K")
        except OSError:
            pass


def describe(res):
    if res is None:
        return "no answer"
    if res.get("lost"):
        return "guest B went away"
    s = f"exit {res['rc']} (kernel {res.get('kernel', '?')})"
    if res.get("killed"):
        s += f", killed: {res['killed']}"
    return s


def finish(remote, grace):
    res = remote.wait(grace)
    if res is None:
        remote.kill()
        res = remote.wait(30)
    return res


def cmd_run(argv, timeout):
    remote = Remote(argv, timeout)
    res = finish(remote, timeout + 60)
    if res is None or res.get("lost") or res.get("killed"):
        print(f"peer.py: on guest B: {describe(res)}: {' '.join(argv)}",
              file=sys.stderr)
    return 125 if res is None else res["rc"]


def cmd_pair(argv, timeout):
    e = os.environ
    link = {
        "SANVERBS_IP_A": e["SANVERBS_LINK_IP_A"], "SANVERBS_IP_B": e["SANVERBS_LINK_IP_B"],
        "SANVERBS_RXE_A": e["SANVERBS_LINK_RXE_A"], "SANVERBS_RXE_B": e["SANVERBS_LINK_RXE_B"],
        # guest A's slot for both: fresh devices put the IPv4 GID at the
        # same index (the selftest checks it)
        "SANVERBS_GID_INDEX_A": e["SANVERBS_LINK_GID_INDEX"],
        "SANVERBS_GID_INDEX_B": e["SANVERBS_LINK_GID_INDEX"],
        "SANVERBS_NS_A": e["SANVERBS_LINK_NS"], "SANVERBS_NS_B": e["SANVERBS_LINK_NS"],
        # not init_net (the one-guest caveat): each side has its own kernel
        "SANVERBS_TWOHOST_MODE": "machines",
    }
    name = os.path.basename(argv[0])
    remote = Remote(argv[:1] + ["--side=b"] + argv[1:], timeout, link,
                    prefix=f"[{name} side B] ".encode())
    env = dict(e)
    env.update(link)
    t0 = time.monotonic()
    try:
        rc_a = subprocess.run(argv[:1] + ["--side=a"] + argv[1:], env=env,
                              stdin=subprocess.DEVNULL, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        rc_a = 124
    if rc_a < 0:
        rc_a = 128 - rc_a
    # side B ends on its own once side A said goodbye; bound the wait
    res = finish(remote, max(30.0, timeout - (time.monotonic() - t0)) if rc_a == 0 else 30.0)
    rc_b = 125 if res is None else res["rc"]
    print(f"two hosts: {name}: side A exit {rc_a} (guest A, kernel {os.uname().release}), "
          f"side B {describe(res)} (guest B)", file=sys.stderr, flush=True)
    return rc_a if rc_a else rc_b


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    cmd = args.pop(0)
    timeout = 600 if cmd == "pair" else 1500
    stop_file = None
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt == "--timeout":
            timeout = int(args.pop(0))
        elif opt == "--stop-file":
            stop_file = args.pop(0)
        else:
            sys.exit(f"peer.py: unknown option {opt}")
    args = args[1:]
    if cmd == "serve":
        return serve(stop_file or "/run/sanverbs-job/stop")
    if not args:
        sys.exit("peer.py: no command given (put it after --)")
    if cmd == "run":
        return cmd_run(args, timeout)
    if cmd == "pair":
        return cmd_pair(args, timeout)
    sys.exit(f"peer.py: unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main())
