#!/usr/bin/env python3
"""A VNC viewer that measures: bench/desktop.sh's client.

    desktop_viewer.py HOST PORT SECONDS [SECONDS ...]

Connects (RFB 3.8, security None), offers ZRLE, CopyRect and DesktopSize,
asks for the whole screen, then keeps one incremental request
outstanding as viewers do. Prints one JSON line per phase: updates per
second and bytes per second (of FramebufferUpdates), the first frame's
bytes on the first line. Before each phase after the first it prints
"next" on stderr and waits for a line on stdin (the script starts the
scrolling window between phases)."""

import json
import socket
import struct
import sys
import time


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("the server closed the connection")
        buf += chunk
    return buf


def handshake(s):
    read_exact(s, 12)
    s.sendall(b"RFB 003.008\n")
    n = read_exact(s, 1)[0]
    types = read_exact(s, n)
    assert 1 in types, types
    s.sendall(b"\x01")
    assert read_exact(s, 4) == b"\0\0\0\0"
    s.sendall(b"\x01")
    w, h = struct.unpack(">HH", read_exact(s, 4))
    read_exact(s, 16)
    (name_len,) = struct.unpack(">I", read_exact(s, 4))
    read_exact(s, name_len)
    encodings = [16, 1, -223]
    s.sendall(struct.pack(">BxH", 2, len(encodings)) + b"".join(struct.pack(">i", e) for e in encodings))
    return w, h


def request(s, incremental, w, h):
    s.sendall(struct.pack(">BBHHHH", 3, incremental, 0, 0, w, h))


def read_update(s):
    """One FramebufferUpdate's size in bytes (other messages skipped)."""
    while True:
        kind = read_exact(s, 1)[0]
        if kind == 0:
            break
        if kind == 2:
            continue
        if kind == 3:
            (n,) = struct.unpack(">3xI", read_exact(s, 7))
            read_exact(s, n)
            continue
        raise ValueError("unexpected server message %d" % kind)
    (count,) = struct.unpack(">xH", read_exact(s, 3))
    size = 4
    for _ in range(count):
        x, y, w, h, enc = struct.unpack(">HHHHi", read_exact(s, 12))
        size += 12
        if enc == 16:
            (n,) = struct.unpack(">I", read_exact(s, 4))
            read_exact(s, n)
            size += 4 + n
        elif enc == 1:
            read_exact(s, 4)
            size += 4
        elif enc == -223:
            pass
        else:
            raise ValueError("unexpected encoding %d" % enc)
    return size


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    phases = [float(a) for a in sys.argv[3:]]
    s = socket.create_connection((host, port), timeout=120)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    w, h = handshake(s)
    request(s, 0, w, h)
    first = read_update(s)
    for i, secs in enumerate(phases):
        if i > 0:
            print("next", file=sys.stderr, flush=True)
            sys.stdin.readline()
        updates = sent = 0
        start = time.monotonic()
        end = start + secs
        request(s, 1, w, h)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                size = read_update(s)
            except socket.timeout:
                break
            updates += 1
            sent += size
            request(s, 1, w, h)
        took = time.monotonic() - start
        s.settimeout(120)
        print(json.dumps({"size": "%dx%d" % (w, h), "first_bytes": first if i == 0 else None,
                          "fps": updates / took, "bytes_per_s": sent / took}), flush=True)
    s.close()


if __name__ == "__main__":
    main()
