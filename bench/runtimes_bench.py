#!/usr/bin/env python3
"""Compare the Pop3d adapters of Deno, Bun and Node 24 on loopback.

For each runtime, starts bench/runtimes_server.ts with the host's default
adapter and measures:
  - the adapter alone: 100 MiB written to a connection's writable in 64 KiB
    chunks, no POP3 (best of 3, MiB/s);
  - RETR throughput of one 100 MiB message (best of 3, MiB/s);
  - sessions per second: connect, greeting, USER, PASS, STAT, QUIT, close,
    from 4 client processes for 3 s each;
  - server RSS growth per idle connection (500 connections after the greeting).

Usage: python3 bench/runtimes_bench.py [deno] [bun] [node] [--mb 100]
The client is python3 and shares the machine's cores with the server, so
treat the numbers as comparisons, not limits.
"""
import os, shutil, socket, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"


def commands(mb):
    server = ["bench/runtimes_server.ts", "--mb", str(mb)]
    node = ["node"]
    try:
        major = int(subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"],
                                   capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        major = 0
    if major < 24:
        node = ["npx", "-y", "node@24"]
    bun = ["bun"] if shutil.which("bun") else ["npx", "-y", "bun@1"]
    return {
        "deno": ["deno", "run", "-A", "--v8-flags=--expose-gc"] + server,
        "bun": bun + server,
        "node": node + ["--expose-gc"] + server,
    }


def version(runtime):
    cmd = {"deno": ["deno", "eval", "console.log('deno ' + Deno.version.deno)"], "bun": ["bun", "-e", "console.log('bun ' + Bun.version)"],
           "node": ["npx", "-y", "node@24", "-p", "'node ' + process.version"]}[runtime]
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.split("\n")[0]
    except OSError:
        return "?"


def line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def login(port, user):
    s = socket.create_connection((HOST, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert line(s).startswith(b"+OK")
    s.sendall(b"USER %s\r\n" % user.encode())
    assert line(s).startswith(b"+OK")
    s.sendall(b"PASS pw\r\n")
    reply = line(s)
    assert reply.startswith(b"+OK"), reply
    return s


def retr(port):
    s = login(port, "u0")
    s.sendall(b"RETR 1\r\n")
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    tail = b""
    t0 = time.perf_counter()
    while True:
        n = s.recv_into(buf)
        if n == 0:
            raise ConnectionError("closed during RETR")
        total += n
        tail = (tail + bytes(view[max(0, n - 5):n]))[-5:]
        if tail == b"\r\n.\r\n":
            break
    dt = time.perf_counter() - t0
    s.sendall(b"QUIT\r\n")
    line(s)
    s.close()
    return total, dt


def raw(port):
    s = socket.create_connection((HOST, port))
    buf = bytearray(1 << 20)
    total = 0
    t0 = time.perf_counter()
    while True:
        n = s.recv_into(buf)
        if n == 0:
            break
        total += n
    dt = time.perf_counter() - t0
    s.close()
    return total, dt


def sessions_worker(args):
    port, worker, seconds = args
    count = 0
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        s = login(port, "u%d" % (worker * 64 + count % 64))
        s.sendall(b"STAT\r\n")
        line(s)
        s.sendall(b"QUIT\r\n")
        line(s)
        s.close()
        count += 1
    return count


def rss(server):
    server.stdin.write(b"rss\n")
    server.stdin.flush()
    while True:
        out = server.stdout.readline().decode()
        if out.startswith("RSS "):
            return int(out.split()[1])


def idle(server, port, count=500):
    """Server RSS growth per connection that got its greeting and waits."""
    time.sleep(0.5)
    before = rss(server)
    conns = []
    for _ in range(count):
        s = socket.create_connection((HOST, port))
        line(s)
        conns.append(s)
    time.sleep(1.0)
    after = rss(server)
    for s in conns:
        s.close()
    return (after - before) / count / 1024


def measure(runtime, cmd):
    server = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        first = server.stdout.readline().decode()
        assert first.startswith("PORT "), first
        port = int(first.split()[1])
        second = server.stdout.readline().decode()
        assert second.startswith("RAW "), second
        raw_port = int(second.split()[1])
        idle_kib = idle(server, port)
        raw_best = 0.0
        for _ in range(3):
            total, dt = raw(raw_port)
            raw_best = max(raw_best, total / dt / 2**20)
        best = 0.0
        for _ in range(3):
            total, dt = retr(port)
            best = max(best, total / dt / 2**20)
        with ProcessPoolExecutor(4) as pool:
            t0 = time.perf_counter()
            done = sum(pool.map(sessions_worker, [(port, w, 3.0) for w in range(4)]))
            per_s = done / (time.perf_counter() - t0)
        return raw_best, best, per_s, idle_kib
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def main():
    args = sys.argv[1:]
    mb = 100
    if "--mb" in args:
        mb = int(args[args.index("--mb") + 1])
        del args[args.index("--mb"):args.index("--mb") + 2]
    runtimes = args or ["deno", "bun", "node"]
    cmds = commands(mb)
    print("| runtime | adapter only, MiB/s | RETR %d MiB, MiB/s | sessions/s (4 clients) | RSS per idle conn, KiB |" % mb)
    print("|---|---|---|---|---|")
    for runtime in runtimes:
        raw_mibs, mibs, per_s, idle = measure(runtime, cmds[runtime])
        print("| %s | %.0f | %.0f | %.0f | %.1f |"
              % (version(runtime), raw_mibs, mibs, per_s, idle), flush=True)


if __name__ == "__main__":
    main()
