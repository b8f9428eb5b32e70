"""Helpers for bench/remote.sh.

  serve PORTS_FILE           a TCP sink and a TCP source; writes "SINK SOURCE"
  keys N LABEL CMD...        CMD in a pty: starts `cat`, types N keystrokes one
                             at a time, each timed until its echo is back;
                             prints "LABEL p50 p99 max" in milliseconds
  push MB LABEL PORT         sends MB MiB to PORT; prints "LABEL up MB/s"
  pull MB LABEL PORT         reads MB MiB from PORT; prints "LABEL down MB/s"
"""
import os
import pty
import select
import socket
import statistics
import sys
import threading
import time

CHUNK = 256 * 1024


def serve(ports_file):
    sink = socket.create_server(("127.0.0.1", 0))
    source = socket.create_server(("127.0.0.1", 0))
    with open(ports_file + ".tmp", "w") as f:
        f.write(f"{sink.getsockname()[1]} {source.getsockname()[1]}\n")
    os.rename(ports_file + ".tmp", ports_file)

    def drain(conn):
        # Reads everything, then answers with the byte count.
        total = 0
        while True:
            b = conn.recv(CHUNK)
            if not b:
                break
            total += len(b)
        conn.sendall(f"{total}\n".encode())
        conn.close()

    def fill(conn):
        want = int(conn.recv(64).decode().strip())
        block = os.urandom(CHUNK)
        sent = 0
        while sent < want:
            n = min(CHUNK, want - sent)
            conn.sendall(block[:n])
            sent += n
        conn.close()

    def loop(listener, handler):
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, args=(sink, drain), daemon=True).start()
    loop(source, fill)


def read_until(fd, needle, deadline):
    seen = b""
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {needle!r}; saw {seen[-200:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            seen += os.read(fd, 65536)
    return seen


def keys(n, label, cmd):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    try:
        time.sleep(1.0)
        os.write(fd, b"exec cat\r")
        # Typed ahead, the next line would go to the shell's line editor,
        # which `exec` discards.
        time.sleep(1.0)
        os.write(fd, b"echo-ready\r")
        read_until(fd, b"echo-ready\r\necho-ready", time.monotonic() + 30)
        times = []
        for i in range(n):
            ch = b"abcdefghij"[i % 10 : i % 10 + 1]
            start = time.perf_counter()
            os.write(fd, ch)
            read_until(fd, ch, time.monotonic() + 10)
            times.append((time.perf_counter() - start) * 1000)
            if i % 60 == 59:
                os.write(fd, b"\r")
                read_until(fd, b"\n", time.monotonic() + 10)
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{label:<16} {p50:10.2f} {p99:10.2f} {times[-1]:10.2f}")
    finally:
        os.write(fd, b"\x04")
        time.sleep(0.2)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def push(mb, label, port):
    want = mb * 1024 * 1024
    block = os.urandom(CHUNK)
    s = socket.create_connection(("127.0.0.1", port))
    start = time.perf_counter()
    sent = 0
    while sent < want:
        n = min(CHUNK, want - sent)
        s.sendall(block[:n])
        sent += n
    s.shutdown(socket.SHUT_WR)
    answer = b""
    while not answer.endswith(b"\n"):
        b = s.recv(64)
        if not b:
            break
        answer += b
    took = time.perf_counter() - start
    got = int(answer.decode().strip() or "0")
    if got != want:
        raise SystemExit(f"{label}: the sink got {got} of {want} bytes")
    print(f"{label:<16} {'up':<6} {want / took / 1e6:10.1f}")


def pull(mb, label, port):
    want = mb * 1024 * 1024
    s = socket.create_connection(("127.0.0.1", port))
    start = time.perf_counter()
    s.sendall(f"{want}\n".encode())
    got = 0
    while True:
        b = s.recv(CHUNK)
        if not b:
            break
        got += len(b)
    took = time.perf_counter() - start
    if got != want:
        raise SystemExit(f"{label}: got {got} of {want} bytes")
    print(f"{label:<16} {'down':<6} {want / took / 1e6:10.1f}")


if __name__ == "__main__":
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "serve":
        serve(args[0])
    elif verb == "keys":
        keys(int(args[0]), args[1], args[2:])
    elif verb == "push":
        push(int(args[0]), args[1], int(args[2]))
    elif verb == "pull":
        pull(int(args[0]), args[1], int(args[2]))
    else:
        raise SystemExit(__doc__)
