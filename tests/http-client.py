#!/usr/bin/env python3
"""Clients for tests/integration/http.sh that curl cannot be: a slowloris
client, raw WebSocket frames, python3-websockets, a reader that stops reading.

usage: http-client.py PORT CASE
Prints one line "ok ..." or "fail ..." and exits 0 / 1."""
import asyncio
import base64
import os
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
CASE = sys.argv[2]


def out(ok, msg):
    print(("ok " if ok else "fail ") + msg)
    sys.exit(0 if ok else 1)


def slowloris():
    # a header line every 0.5 s; the host's request_timeout (2 s) must cut it
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(0.5)
    s.sendall(b"GET /t/hello HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    for i in range(40):
        try:
            s.sendall(b"X-Slow-%d: y\r\n" % i)
        except OSError:
            return out(time.time() - t0 < 8, "slowloris cut after %.1fs (send failed)" % (time.time() - t0))
        try:
            d = s.recv(4096)
            if d == b"" or d:
                return out(time.time() - t0 < 8 and b"200 OK" not in d,
                           "slowloris cut after %.1fs (%r)" % (time.time() - t0, d[:40]))
        except socket.timeout:
            pass
        except OSError:
            return out(True, "slowloris reset after %.1fs" % (time.time() - t0))
    out(False, "slowloris client still connected after 20 s")


def ws_raw():
    s = socket.create_connection(("127.0.0.1", PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    s.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            out(False, "no 101")
        head += d
    if b" 101 " not in head.split(b"\r\n")[0]:
        out(False, "handshake: %r" % head)
    return s


def masked(opcode, payload):
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    hdr = bytes([0x80 | opcode])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return hdr + mask + data


def read_close_code(s):
    buf = b""
    s.settimeout(5)
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            break
        if not d:
            break
        buf += d
    # walk the frames to the close frame
    i = 0
    while i + 2 <= len(buf):
        op = buf[i] & 0x0F
        n = buf[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            n = struct.unpack("!H", buf[j:j + 2])[0]
            j += 2
        elif n == 127:
            n = struct.unpack("!Q", buf[j:j + 8])[0]
            j += 8
        if op == 8:
            return struct.unpack("!H", buf[j:j + 2])[0] if n >= 2 else 1005
        i = j + n
    return None


def ws_malformed():
    s = ws_raw()
    s.sendall(b"\x81\x05hello")  # unmasked client frame: a protocol error
    code = read_close_code(s)
    out(code == 1002, "malformed frame -> close %s" % code)


def ws_slow():
    s = ws_raw()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(masked(1, b"flood"))
    time.sleep(6)  # read nothing while the plugin floods
    s.settimeout(10)
    n = 0
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            n += len(d)
    except OSError:
        pass
    out(True, "slow websocket reader: connection ended after %d bytes" % n)


def sse_slow():
    s = socket.create_connection(("127.0.0.1", PORT))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /sse?flood=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(6)
    s.settimeout(10)
    n = 0
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            n += len(d)
    except OSError:
        pass
    out(True, "slow SSE reader: connection ended after %d bytes" % n)


async def ws_lib():
    import websockets
    uri = "ws://127.0.0.1:%d/ws" % PORT
    async with websockets.connect(uri, max_size=None) as ws:
        await ws.send("echo me")
        got = await asyncio.wait_for(ws.recv(), 5)
        if got != "echo me":
            out(False, "echo: %r" % got)
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)
    async with websockets.connect(uri, max_size=None) as ws:
        await ws.send("x" * 2000)  # > http.max_ws_message (1024)
        try:
            await asyncio.wait_for(ws.recv(), 5)
            out(False, "oversized message not refused")
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            if code != 1009:
                out(False, "oversized -> close %s" % code)
    async with websockets.connect(uri) as ws:
        await ws.send("bye")
        try:
            await asyncio.wait_for(ws.recv(), 5)
            out(False, "bye not closed")
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            if code != 1000:
                out(False, "bye -> close %s" % code)
    out(True, "websocket: echo, ping/pong, oversized -> 1009, plugin close -> 1000")


async def ws_hold():
    # open a WebSocket and wait for the server to close it (plugin stop -> 1001)
    import websockets
    async with websockets.connect("ws://127.0.0.1:%d/ws" % PORT) as ws:
        print("open", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.exceptions.ConnectionClosed as e:
            out(e.rcvd is not None and e.rcvd.code == 1001, "held websocket closed with %s" % (e.rcvd.code if e.rcvd else None))
    out(False, "held websocket got a message")


def head(line, headers, target):
    """A request head of exactly `target` bytes as http.max_header_bytes
    counts it (request line, "Name: value" lines, blank line): the last
    header's value is padded to fit."""
    size = len(line) + 2 + sum(len(n) + 2 + len(v) + 2 for n, v in headers) + 2
    n, v = headers[-1]
    headers = headers[:-1] + [(n, v + "p" * (target - size))]
    data = (line + "\r\n" + "".join("%s: %s\r\n" % h for h in headers) + "\r\n").encode()
    if len(data) != target:
        out(False, "head of %d bytes, not %d" % (len(data), target))
    return data


def exchange(data, want=None):
    """Sends one head; returns (status line, headers, first body bytes)."""
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(5)
    s.sendall(data)
    got = b""
    try:
        while b"\r\n\r\n" not in got or (want and want not in got):
            d = s.recv(65536)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    hd, _, body = got.partition(b"\r\n\r\n")
    lines = hd.decode("latin-1").split("\r\n")
    return s, lines[0], lines[1:], body


def head_limit(limit):
    # A head of exactly http.max_header_bytes is served (document, SSE,
    # WebSocket; with a long query; with 40 headers, i.e. MHD's header
    # index in the pool), one byte more is the host's JSON 431.
    base = [("Host", "x"), ("X-Pad", "")]
    many = [("Host", "x")] + [("X-Header-%02d" % i, "v") for i in range(40)] + [("X-Pad", "")]
    for hs, what in ((base, "one big header"), (many, "41 headers")):
        s, st, _, body = exchange(head("GET /t/hello HTTP/1.1", hs, limit), b"}")
        s.close()
        if " 200 " not in st or b'"hello"' not in body:
            out(False, "%s, %d bytes: %s %r" % (what, limit, st, body[:80]))
        s, st, hd, body = exchange(head("GET /t/hello HTTP/1.1", hs, limit + 1), b"}}")
        s.close()
        if " 431 " not in st or b'"code":431' not in body:
            out(False, "%s, %d bytes: %s %r" % (what, limit + 1, st, body[:80]))
    q = "GET /files/x?q=" + "y" * (limit - 200) + " HTTP/1.1"
    for extra, code in ((0, " 200 "), (1, " 431 ")):
        s, st, _, body = exchange(head(q, [("Host", "x"), ("X-Pad", "")], limit + extra), b"}")
        s.close()
        if code not in st:
            out(False, "long query, %d bytes: %s" % (limit + extra, st))
    s, st, _, body = exchange(head("GET /sse HTTP/1.1", base, limit), b"event: tick")
    s.close()
    if " 200 " not in st or b"event: tick" not in body:
        out(False, "SSE at the limit: %s %r" % (st, body[:80]))
    key = base64.b64encode(os.urandom(16)).decode()
    ws = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
          ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"), ("X-Pad", "")]
    s, st, _, body = exchange(head("GET /ws HTTP/1.1", ws, limit))
    if " 101 " not in st:
        out(False, "WebSocket at the limit: %s" % st)
    s.sendall(masked(1, b"at the limit"))
    got = body
    while b"at the limit" not in got:
        d = s.recv(4096)
        if not d:
            out(False, "WebSocket at the limit: no echo (%r)" % got)
        got += d
    s.close()
    out(True, "a head of %d bytes (one header, 41 headers, long query, SSE, WebSocket) is served, "
        "%d bytes get 431" % (limit, limit + 1))


if CASE == "head-limit":
    head_limit(int(sys.argv[3]))
elif CASE == "slowloris":
    slowloris()
elif CASE == "ws-malformed":
    ws_malformed()
elif CASE == "ws-slow":
    ws_slow()
elif CASE == "sse-slow":
    sse_slow()
elif CASE == "ws":
    asyncio.run(ws_lib())
elif CASE == "ws-hold":
    asyncio.run(ws_hold())
else:
    out(False, "unknown case " + CASE)
