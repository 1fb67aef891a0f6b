#!/usr/bin/python3
"""Live-update clients and publisher for the read side (issue 16).

  fanout.py clients --base http://127.0.0.1:PORT --ws N --sse N
            [--ws-path /api/v1/live] [--ws-subscribe JSON]
            [--sse-path /api/v1/events?topics=...] [--origin URL] --out FILE
      Opens N WebSocket clients (python3-websockets, its sans-I/O protocol
      driven by asyncio) and N SSE clients (a raw asyncio reader: HTTP/1.1,
      chunked or not), prints "connected N" once every client has its
      stream open (WebSocket: 101 and the subscribe message sent; SSE: the
      200 header), then reads until SIGTERM or SIGINT. On that it closes
      every client (WebSocket close 1000, SSE: closes the socket) and writes
      its figures as JSON to FILE: messages per kind, per-client counts,
      the delivery latency histogram (receipt time minus the "t_pub" field,
      microseconds since the epoch, found in each message), heartbeats,
      streams that ended early.

  fanout.py publish --admin http://127.0.0.1:PORT [--token T] --subject S
            --rate R --seconds D [--template JSON] --out FILE
      POSTs R messages a second for D seconds to the admin API's
      /publish/SUBJECT on one keep-alive connection, each carrying "t_pub"
      (taken just before the request is written) and "seq" (from 1), on a
      fixed schedule (a late publisher catches up, never bursts more than
      one at a time). Writes {"published":N,"failed":N,...} to FILE.

  fanout.py report FILE... --published N
      Merges the clients' files (this script's and tests/bench/fanout-client's,
      which adds 1 µs buckets below 100 ms as "hist_us" and its self-checks
      "negative", "absurd", "seq_errors"): prints "name value unit" lines.

Several `clients` processes can share the load (the harness starts
FANOUT_PROCS of them): one Python process receives ~50-100k messages/s at
most, and 2,000 clients x 100 events/s is 200k/s.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time
import urllib.parse

T_PUB = re.compile(rb't_pub\\?"\s*:\s*(\d+)')
BUCKET_US = 100          # histogram resolution
BUCKETS = 100000         # 10 s; later receipts go to the last bucket
FINE_LIMIT_US = 100000   # fanout-client's "hist_us": 1 µs buckets below this


class Stats:
    def __init__(self):
        self.hist = [0] * (BUCKETS + 1)
        self.msgs = {"ws": 0, "sse": 0}
        self.other = {"ws": 0, "sse": 0}      # messages without t_pub
        self.heartbeats = {"ws": 0, "sse": 0}
        self.ended = {"ws": 0, "sse": 0}      # streams that ended before SIGTERM
        self.errors = []
        self.per_client = {"ws": [], "sse": []}
        self.max_us = 0
        self.negative = 0                     # receipt before t_pub: a clock or parsing error

    def add(self, kind, data, now_us):
        found = False
        for m in T_PUB.finditer(data):
            found = True
            lat = now_us - int(m.group(1))
            if lat < 0:
                self.negative += 1
                lat = 0
            if lat > self.max_us:
                self.max_us = lat
            b = lat // BUCKET_US
            self.hist[b if b < BUCKETS else BUCKETS] += 1
            self.msgs[kind] += 1
        if not found:
            self.other[kind] += 1
        return found


def now_us():
    return time.time_ns() // 1000


class SSEClient(asyncio.Protocol):
    """GET PATH, then text/event-stream events; chunked transfer decoded."""

    def __init__(self, stats, req, ready):
        self.stats, self.req, self.ready = stats, req, ready
        self.buf = b""
        self.head = True
        self.chunked = False
        self.chunk_left = 0     # bytes of the current chunk still to come
        self.events = b""       # decoded body not yet split into events
        self.count = 0
        self.closing = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.req)

    def data_received(self, data):
        t = now_us()
        self.buf += data
        if self.head:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4:]
            status = head.split("\r\n", 1)[0]
            if " 200" not in status:
                self.stats.errors.append("sse: " + status)
                self.transport.close()
                if not self.ready.done():
                    self.ready.set_result(False)
                return
            self.chunked = "transfer-encoding: chunked" in head.lower()
            self.head = False
            if not self.ready.done():
                self.ready.set_result(True)
        if self.chunked:
            self._dechunk()
        else:
            self.events += self.buf
            self.buf = b""
        # Events end with a blank line; comments (":...") are heartbeats.
        while True:
            end = self.events.find(b"\n\n")
            if end < 0:
                break
            ev, self.events = self.events[:end], self.events[end + 2:]
            if ev.startswith(b":"):
                self.stats.heartbeats["sse"] += 1
                continue
            if self.stats.add("sse", ev, t):
                self.count += 1

    def _dechunk(self):
        while self.buf:
            if self.chunk_left > 0:
                take = self.buf[:self.chunk_left]
                self.events += take
                self.chunk_left -= len(take)
                self.buf = self.buf[len(take):]
                if self.chunk_left == 0:
                    self.chunk_left = -2     # the CRLF after the data
                continue
            if self.chunk_left < 0:
                if len(self.buf) < 2:
                    return
                self.buf = self.buf[2:]
                self.chunk_left = 0
                continue
            end = self.buf.find(b"\r\n")
            if end < 0:
                return
            size = int(self.buf[:end].split(b";")[0], 16)
            self.buf = self.buf[end + 2:]
            if size == 0:
                self.transport.close()
                return
            self.chunk_left = size

    def connection_lost(self, exc):
        if not self.closing:
            self.stats.ended["sse"] += 1
        if not self.ready.done():
            self.ready.set_result(False)


class WSClient(asyncio.Protocol):
    """websockets' sans-I/O client connection on an asyncio transport."""

    def __init__(self, stats, uri, origin, subscribe, ready):
        from websockets.client import ClientConnection
        from websockets.uri import parse_uri
        self.stats, self.ready, self.subscribe = stats, ready, subscribe
        self.conn = ClientConnection(parse_uri(uri), origin=origin, max_size=1 << 22)
        self.count = 0
        self.closing = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.conn.send_request(self.conn.connect())
        self._flush()

    def _flush(self):
        for d in self.conn.data_to_send():
            if d:
                self.transport.write(d)
            elif not self.transport.is_closing():
                self.transport.write_eof()

    def data_received(self, data):
        from websockets.frames import Opcode
        from websockets.http11 import Response
        t = now_us()
        self.conn.receive_data(data)
        for ev in self.conn.events_received():
            if isinstance(ev, Response):
                if ev.status_code != 101:
                    self.stats.errors.append("ws: %d" % ev.status_code)
                    self.ready.set_result(False)
                    continue
                if self.subscribe:
                    self.conn.send_text(self.subscribe.encode())
                if not self.ready.done():
                    self.ready.set_result(True)
            elif ev.opcode == Opcode.TEXT or ev.opcode == Opcode.BINARY:
                if self.stats.add("ws", ev.data, t):
                    self.count += 1
            elif ev.opcode == Opcode.PING:
                self.stats.heartbeats["ws"] += 1
        if self.conn.handshake_exc is not None and not self.ready.done():
            self.stats.errors.append("ws: " + str(self.conn.handshake_exc))
            self.ready.set_result(False)
        self._flush()

    def close(self):
        self.closing = True
        try:
            self.conn.send_close(1000)
            self._flush()
        except Exception:
            pass
        self.transport.close()

    def connection_lost(self, exc):
        if not self.closing:
            self.stats.ended["ws"] += 1
        if not self.ready.done():
            self.ready.set_result(False)


async def run_clients(a):
    u = urllib.parse.urlsplit(a.base)
    host, port = u.hostname, u.port or 80
    loop = asyncio.get_running_loop()
    stats = Stats()
    clients = []
    sse_req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n%s\r\n" % (
        a.sse_path, host, port, ("Origin: %s\r\n" % a.origin) if a.origin else "")).encode()
    ws_uri = "ws://%s:%d%s" % (host, port, a.ws_path)
    sem = asyncio.Semaphore(64)     # connects in flight (the listen backlog)

    async def one(kind):
        ready = loop.create_future()
        async with sem:
            if kind == "ws":
                mk = lambda: WSClient(stats, ws_uri, a.origin, a.ws_subscribe, ready)
            else:
                mk = lambda: SSEClient(stats, sse_req, ready)
            try:
                _, proto = await loop.create_connection(mk, host, port)
            except OSError as e:
                stats.errors.append("%s connect: %s" % (kind, e))
                return
            ok = await asyncio.wait_for(ready, 30)
        if ok:
            clients.append((kind, proto))

    await asyncio.gather(*[one("ws") for _ in range(a.ws)], *[one("sse") for _ in range(a.sse)])
    print("connected %d" % len(clients), flush=True)
    cpu_connected = time.process_time()
    stop = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: stop.done() or stop.set_result(True))
    await stop
    for kind, p in clients:
        stats.per_client[kind].append(p.count)
        if kind == "ws":
            p.close()
        else:
            p.closing = True
            p.transport.close()
    await asyncio.sleep(0.5)
    out = {"connected": len(clients), "msgs": stats.msgs, "other": stats.other,
           "heartbeats": stats.heartbeats, "ended": stats.ended, "errors": stats.errors[:20],
           "n_errors": len(stats.errors), "per_client": stats.per_client,
           "hist": {str(i): n for i, n in enumerate(stats.hist) if n}, "max_us": stats.max_us,
           "negative": stats.negative, "cpu_s": time.process_time(),
           "cpu_recv_s": time.process_time() - cpu_connected}
    with open(a.out, "w") as f:
        json.dump(out, f)


async def run_publish(a):
    u = urllib.parse.urlsplit(a.admin)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    tmpl = json.loads(a.template)
    published = failed = 0
    lag_max = 0.0
    start = time.monotonic()
    n = int(a.rate * a.seconds)
    auth = ("Authorization: Bearer %s\r\n" % a.token) if a.token else ""
    for i in range(n):
        due = start + i / a.rate
        d = due - time.monotonic()
        if d > 0:
            await asyncio.sleep(d)
        else:
            lag_max = max(lag_max, -d)
        msg = dict(tmpl)
        msg["seq"] = i + 1
        msg["t_pub"] = now_us()
        body = json.dumps(msg, separators=(",", ":")).encode()
        writer.write(("POST /publish/%s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n" % (a.subject, u.netloc, auth, len(body))).encode()
                     + body)
        status = await reader.readline()
        clen = 0
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b""):
                break
            if h.lower().startswith(b"content-length:"):
                clen = int(h.split(b":")[1])
        if clen:
            await reader.readexactly(clen)
        if b" 200 " in status or b" 202 " in status or b" 204 " in status:
            published += 1
        else:
            failed += 1
            if failed < 5:
                print("publish: %s" % status.decode().strip(), file=sys.stderr)
    writer.close()
    with open(a.out, "w") as f:
        json.dump({"published": published, "failed": failed, "seconds": time.monotonic() - start,
                   "max_lag_s": lag_max}, f)


def percentile(hist, q):
    """hist: {upper bucket edge in µs: count}; the edge at quantile q in ms."""
    total = sum(hist.values())
    if total == 0:
        return None
    want = q * total
    run = 0
    for edge in sorted(hist):
        run += hist[edge]
        if run >= want:
            return edge / 1000.0
    return None


def add_hist(hist, d):
    """Adds one clients file's latencies to hist ({upper edge µs: count}):
    the C client's 1 µs buckets below 100 ms when it has them, else (and
    above) the 100 µs buckets both clients write."""
    fine = d.get("hist_us")
    limit = FINE_LIMIT_US // BUCKET_US if fine is not None else 0
    for b, n in (fine or {}).items():
        hist[int(b) + 1] = hist.get(int(b) + 1, 0) + n
    for b, n in d["hist"].items():
        if int(b) >= limit:
            e = (int(b) + 1) * BUCKET_US
            hist[e] = hist.get(e, 0) + n


def report(a):
    hist = {}
    msgs = {"ws": 0, "sse": 0}
    connected = ended = errors = 0
    negative = absurd = seq_errors = 0
    cpu = cpu_recv = 0.0
    mx = 0
    fine = True
    per = {"ws": [], "sse": []}
    for fn in a.files:
        with open(fn) as f:
            d = json.load(f)
        connected += d["connected"]
        for k in msgs:
            msgs[k] += d["msgs"][k]
            ended += d["ended"][k]
            per[k] += d["per_client"][k]
        errors += d["n_errors"]
        add_hist(hist, d)
        fine = fine and "hist_us" in d
        negative += d.get("negative", 0)
        absurd += d.get("absurd", 0)
        seq_errors += d.get("seq_errors", 0)
        cpu += d["cpu_s"]
        cpu_recv += d.get("cpu_recv_s", d["cpu_s"])
        mx = max(mx, d["max_us"])
    want = a.published * connected
    got = msgs["ws"] + msgs["sse"]
    print("fanout_clients_connected %d clients" % connected)
    print("fanout_messages_expected %d messages" % want)
    print("fanout_messages_ws %d messages" % msgs["ws"])
    print("fanout_messages_sse %d messages" % msgs["sse"])
    print("fanout_messages_missing %d messages" % (want - got))
    for k in ("ws", "sse"):
        if per[k]:
            print("fanout_min_per_client_%s %d messages" % (k, min(per[k])))
    print("fanout_streams_ended_early %d streams" % ended)
    print("fanout_client_errors %d errors" % errors)
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)):
        v = percentile(hist, q)
        print("fanout_latency_%s %s ms" % (name, ("%.3f" if fine else "%.1f") % v if v is not None else "none"))
    print("fanout_latency_max %.1f ms" % (mx / 1000.0))
    # Self-checks: receipts before their publish time, latencies over an
    # hour, per-client "seq" not running 1, 2, 3... (fanout-client only).
    print("fanout_latency_negative %d messages" % negative)
    print("fanout_latency_absurd %d messages" % absurd)
    print("fanout_seq_errors %d messages" % seq_errors)
    print("fanout_client_cpu %.1f s" % cpu)
    # CPU while receiving (after every client connected) per message received.
    print("fanout_client_cpu_per_message %.2f us" % (cpu_recv * 1e6 / got if got else 0))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clients")
    c.add_argument("--base", required=True)
    c.add_argument("--ws", type=int, default=0)
    c.add_argument("--sse", type=int, default=0)
    c.add_argument("--ws-path", default="/api/v1/live")
    c.add_argument("--ws-subscribe", default='{"subscribe":["*"]}')
    c.add_argument("--sse-path", default="/api/v1/events?topics=*")
    c.add_argument("--origin", default=None)
    c.add_argument("--out", required=True)
    p = sub.add_parser("publish")
    p.add_argument("--admin", required=True)
    p.add_argument("--token", default=os.environ.get("LABD_ADMIN_TOKEN", ""))
    p.add_argument("--subject", required=True)
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--template", default="{}")
    p.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("files", nargs="+")
    r.add_argument("--published", type=int, required=True)
    a = ap.parse_args()
    if a.cmd == "clients":
        asyncio.run(run_clients(a))
    elif a.cmd == "publish":
        asyncio.run(run_publish(a))
    else:
        report(a)


if __name__ == "__main__":
    main()
