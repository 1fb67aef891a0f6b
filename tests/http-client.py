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


FLOOD = 16 * 1024  # tests/plugins/httpcheck.c: "flood" messages are 16 KiB of "x"


def ws_frames(buf):
    """Walk server frames: [(opcode, payload)], stops at a partial frame."""
    frames, i = [], 0
    while i + 2 <= len(buf):
        op, n, j = buf[i] & 0x0F, buf[i + 1] & 0x7F, i + 2
        if buf[i + 1] & 0x80:
            out(False, "masked server frame at %d" % i)
        if n == 126:
            n, j = struct.unpack("!H", buf[j:j + 2])[0], j + 2
        elif n == 127:
            n, j = struct.unpack("!Q", buf[j:j + 8])[0], j + 8
        if j + n > len(buf):
            break
        frames.append((op, buf[j:j + n]))
        i = j + n
    return frames


def read_all(s, timeout, limit=1 << 40):
    """Read until EOF, an error, `timeout` s of silence or `limit` bytes."""
    s.settimeout(timeout)
    buf = b""
    try:
        while len(buf) < limit:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
    except OSError:
        pass
    return buf


def ws_stall():
    # stop reading while the plugin floods; once the host has dropped the
    # client (the test touches the file GO) read everything: whole 16 KiB
    # text frames, then close 1013 right after the frame that was in flight
    go = os.environ["GO"]
    s = ws_raw()
    s.sendall(masked(1, b"flood"))
    print("flooding", flush=True)
    t0 = time.time()
    while not os.path.exists(go):
        if time.time() - t0 > 30:
            out(False, "never told to read")
        time.sleep(0.02)
    buf = read_all(s, 5)
    frames = ws_frames(buf)
    data = [p for op, p in frames if op == 1]
    close = [p for op, p in frames if op == 8]
    if any(p != b"x" * FLOOD for p in data):
        out(False, "a data frame is not the 16 KiB flood message")
    if not close or struct.unpack("!H", close[0][:2])[0] != 1013:
        out(False, "no close 1013 after %d frames (%d bytes), last opcode %s" % (len(frames), len(buf), frames[-1][0] if frames else None))
    if frames[-1][0] != 8:
        out(False, "frames after the close")
    out(True, "stalled websocket: %d whole frames, then close 1013" % len(data))


async def ws_ping_queued():
    # pings sent while the host holds queued data for us (we do not read):
    # the pongs must come back between whole frames (websockets fails the
    # connection on a corrupt stream), every message must be intact
    import websockets
    async with websockets.connect("ws://127.0.0.1:%d/ws" % PORT, max_size=None, max_queue=1,
                                  ping_interval=None) as ws:
        await ws.send("flood")
        await asyncio.sleep(1.5)  # the kernel buffers fill, the host queues
        pongs = [await ws.ping() for _ in range(5)]
        await asyncio.sleep(0.5)
        n = 0
        t0 = time.time()
        while not all(p.done() for p in pongs):
            m = await asyncio.wait_for(ws.recv(), 10)
            if m != "x" * FLOOD:
                out(False, "message %d is not the flood message (%d bytes)" % (n, len(m)))
            n += 1
            if time.time() - t0 > 20:
                out(False, "pongs not back after %d messages" % n)
        await ws.close()
    out(True, "5 pongs back between whole frames after %d flood messages; clean close" % n)


def sse_http10():
    # an HTTP/1.0 client: no chunked encoding, events as sent, heartbeats
    s = socket.create_connection(("127.0.0.1", PORT))
    s.sendall(b"GET /sse HTTP/1.0\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    buf = b""
    t0 = time.time()
    while time.time() - t0 < 4 and not (b'{"tick":3}' in buf and b"\n\n: hb\n\n" in buf):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0]:
        out(False, "status: %r" % head[:60])
    if b"chunked" in head.lower() or b"text/event-stream" not in head:
        out(False, "head: %r" % head)
    ev = body.split(b"\n\n")[:-1]
    ticks = [e for e in ev if b"event: tick\n" in e]
    if len(ticks) < 3 or b": hb" not in ev:
        out(False, "body: %r" % body[:300])
    for k, e in enumerate(ticks):
        n = k + 1
        if e != b'id: %d\nevent: tick\ndata: {"tick":%d}' % (n, n):
            out(False, "event %d: %r" % (k, e))
    out(True, "SSE over HTTP/1.0: %d ticks and heartbeats, not chunked" % len(ticks))


def sse_stall():
    # stop reading for a while, then read: every flood event must be whole
    s = socket.create_connection(("127.0.0.1", PORT))
    s.sendall(b"GET /sse?flood=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(1.5)  # the kernel buffers fill, the host queues
    buf = read_all(s, 2, 32 << 20)
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        out(False, "chunked SSE: %r" % head)
    want = b"event: flood\ndata: " + b"x" * FLOOD
    ev = body.split(b"\n\n")[:-1]  # the last one may be cut
    bad = [k for k, e in enumerate(ev) if e != want and e != b": hb"]
    if len(buf) < 8 << 20 or bad:
        out(False, "%d events, bad: %r" % (len(ev), [ev[k][:40] for k in bad[:3]]))
    out(True, "stalled SSE reader: %d whole events (%d bytes)" % (len(ev), len(body)))


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
elif CASE == "ws-stall":
    ws_stall()
elif CASE == "ws-ping-queued":
    asyncio.run(ws_ping_queued())
elif CASE == "sse-http10":
    sse_http10()
elif CASE == "sse-stall":
    sse_stall()
else:
    out(False, "unknown case " + CASE)
