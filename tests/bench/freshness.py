#!/usr/bin/python3
"""Freshness reader for the read side (issue 16).

  freshness.py --base http://127.0.0.1:PORT --path /beacon/slots/mainnet/1.json
               --expect N [--readers K] [--ws-path /api/v1/live]
               [--ws-subscribe JSON] [--timeout S]

A WebSocket subscription (python3-websockets) follows the announcements of
the document: each event whose text names the document's key carries the
version written ("v"); the newest seen is the floor. K reader loops (one
keep-alive connection each, Accept-Encoding: gzip as a browser sends) GET
the document back to back; each request notes the floor when it is
written, and its answer must hold a version at least that (the api must
have dropped or refreshed the key before it passed the event on). A body
that is not the document (not JSON, no "v", not 200) counts as bad.
Prints "ready" once subscribed, then, after the floor reaches N and every
reader has done at least 20 more reads (or the timeout), the figures:
  reads, stale, bad, events, newest_event, newest_read, first_stale...
and exits 0 when stale == bad == 0 and the floor reached N.
"""
import argparse
import asyncio
import gzip
import json
import re
import sys
import time
import urllib.parse

V_RE = re.compile(rb'"v"\s*:\s*(\d+)')


class State:
    floor = 0
    events = 0
    reads = 0
    stale = 0
    bad = 0
    newest_read = 0
    details = []
    done = False


async def subscribe(a, st, ready):
    import websockets
    uri = "ws://%s:%d%s" % (a.host, a.port, a.ws_path)
    key = a.path.lstrip("/").encode()
    async with websockets.connect(uri, max_size=1 << 22) as ws:
        if a.ws_subscribe:
            await ws.send(a.ws_subscribe)
        await asyncio.sleep(a.settle)
        ready.set_result(True)
        async for msg in ws:
            if isinstance(msg, str):
                msg = msg.encode()
            if key not in msg.replace(b"\\/", b"/"):
                continue
            st.events += 1
            m = V_RE.search(msg)
            v = int(m.group(1)) if m else st.events
            if v > st.floor:
                st.floor = v


async def get(reader, writer, req):
    writer.write(req)
    status = await reader.readline()
    headers = {}
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            n = int((await reader.readline()).split(b";")[0], 16)
            if n == 0:
                await reader.readline()
                break
            body += await reader.readexactly(n)
            await reader.readline()
    else:
        body = await reader.read()
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return int(status.split()[1]), body


async def read_loop(a, st, idx):
    reader, writer = await asyncio.open_connection(a.host, a.port)
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept-Encoding: gzip\r\n\r\n" % (
        a.path, a.host, a.port)).encode()
    after = 0
    while not st.done:
        floor = st.floor
        try:
            code, body = await get(reader, writer, req)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            st.bad += 1
            st.details.append("reader %d: connection: %s" % (idx, e))
            writer.close()
            reader, writer = await asyncio.open_connection(a.host, a.port)
            continue
        st.reads += 1
        v = None
        if code == 200:
            try:
                v = int(json.loads(body)["v"])
            except (ValueError, KeyError, TypeError):
                v = None
        if v is None:
            st.bad += 1
            if len(st.details) < 10:
                st.details.append("status %d body %r" % (code, body[:80]))
        else:
            st.newest_read = max(st.newest_read, v)
            if v < floor:
                st.stale += 1
                if len(st.details) < 10:
                    st.details.append("stale: read v%d after the event of v%d" % (v, floor))
        if st.floor >= a.expect:
            after += 1
            if after >= 20:
                break
    writer.close()


async def main_async(a):
    st = State()
    ready = asyncio.get_running_loop().create_future()
    sub = asyncio.create_task(subscribe(a, st, ready))
    await asyncio.wait([sub, ready], return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        sub.result()   # raises the subscription's error
    print("ready", flush=True)
    t0 = time.monotonic()
    readers = [asyncio.create_task(read_loop(a, st, i)) for i in range(a.readers)]
    try:
        await asyncio.wait_for(asyncio.gather(*readers), a.timeout)
    except asyncio.TimeoutError:
        st.details.append("timeout: floor %d of %d" % (st.floor, a.expect))
    st.done = True
    sub.cancel()
    secs = time.monotonic() - t0
    print("freshness_reads %d reads" % st.reads)
    print("freshness_reads_per_second %.0f reads/s" % (st.reads / secs if secs else 0))
    print("freshness_events %d events" % st.events)
    print("freshness_newest_event %d version" % st.floor)
    print("freshness_newest_read %d version" % st.newest_read)
    print("freshness_stale_reads %d reads" % st.stale)
    print("freshness_bad_reads %d reads" % st.bad)
    for d in st.details:
        print("detail: " + d, file=sys.stderr)
    return 0 if st.stale == 0 and st.bad == 0 and st.floor >= a.expect else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--ws-path", default="/api/v1/live")
    ap.add_argument("--ws-subscribe", default='{"subscribe":["*"]}')
    ap.add_argument("--settle", type=float, default=0.5,
                    help="seconds between the subscribe message and 'ready'")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.base)
    a.host, a.port = u.hostname, u.port or 80
    sys.exit(asyncio.run(main_async(a)))


if __name__ == "__main__":
    main()
