#!/usr/bin/python3
"""An SSE server for tests/integration/fanout-client.sh: the body shapes a
load client must read the same way, written a few bytes at a time so that
lines, CRLFs and chunk headers are split across reads.

  sse-shapes.py PORTFILE EVENTS

Paths (the response to every GET, whatever its query):
  /chunked   HTTP/1.1, Transfer-Encoding: chunked, chunk boundaries inside
             lines, LF line ends
  /close     HTTP/1.0 style: no length, the body ends when the server closes;
             CRLF and CR line ends
  /early     as /close, but the server closes after the events (an early end)
  /future    one event whose t_pub is 10 s ahead (a negative latency)
  /ancient   one event whose t_pub is 1970 (an absurd latency)
After each stream's events a line goes to PORTFILE.done.
Each stream: a comment heartbeat, an "event: subscribed" without t_pub, then
EVENTS events (id:, event:, data: split over two data: lines, t_pub = now in
µs, seq 1..EVENTS), another heartbeat; then it stays open (except /early)
until the client leaves.
"""
import asyncio
import os
import random
import sys
import time


def events(path, n, eol):
    out = [b": hb" + eol + eol, b"event: subscribed" + eol + b'data: {"subscribed":["x"]}' + eol + eol]
    if path in ("/future", "/ancient"):
        t = time.time_ns() // 1000 + 10000000 if path == "/future" else 1
        out.append(b"id: 1" + eol + b'data: {"data":{"seq":1,"t_pub":%d}}' % t + eol + eol)
        return out
    for i in range(1, n + 1):
        t = time.time_ns() // 1000
        out.append(b"id: %d" % i + eol + b"event: message" + eol + b'data: {"topic":"x","data":{"seq":%d,' % i + eol +
                   b'data: "t_pub":%d}}' % t + eol + eol)
    out.append(b": hb" + eol + eol)
    return out


async def handle(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    path = head.split(b" ")[1].split(b"?")[0].decode()
    n = int(sys.argv[2])
    chunked = path == "/chunked"
    if chunked:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    else:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n")
    for i, ev in enumerate(events(path, n, b"\n" if chunked else b"\r\n")):
        if not chunked and i % 2:   # every other event with bare CRs
            ev = ev.replace(b"\r\n", b"\r")
        while ev:
            k = random.randint(1, 9)
            piece, ev = ev[:k], ev[k:]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
            await asyncio.sleep(0.0005)
    with open(sys.argv[1] + ".done", "a") as f:   # the test waits for one line per stream
        f.write(path + "\n")
    if path == "/early":
        writer.close()
        return
    await reader.read()   # until the client closes
    writer.close()


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
