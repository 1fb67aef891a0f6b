#!/usr/bin/env node
// ch-pace-proxy.js UPSTREAM_URL PAUSE_MS MARKER
//
// The original Python backend's designed pace, emulated in front of
// ClickHouse for tests/bench/beacon.sh (the product has no code for it):
// every request is forwarded to UPSTREAM_URL one at a time (the next one
// waits until the answer before it was fully sent back), and a request whose
// SQL (POST body and/or ?query=) contains MARKER waits PAUSE_MS first.  With
// labd's beacon at backfill concurrency 1 (one slot per batch) and MARKER a
// text only the per-slot block query holds, this is the original's pace:
// one slot at a time, its queries one after another, a 500 ms pause per slot.
// Prints "listening PORT" on stdout once it accepts connections; on
// SIGTERM/SIGINT prints "requests N paused M" and exits.
'use strict';
const http = require('http');

const [upstream, pauseArg, marker] = process.argv.slice(2);
if (!upstream || !pauseArg || !marker) {
	process.stderr.write('usage: ch-pace-proxy.js UPSTREAM_URL PAUSE_MS MARKER\n');
	process.exit(2);
}
const up = new URL(upstream);
const pauseMs = Number(pauseArg);
const queue = [];
let busy = false, requests = 0, paused = 0;

function next() {
	if (busy || !queue.length)
		return;
	busy = true;
	const { req, res, body } = queue.shift();
	let sql = body.toString('latin1');
	try {
		sql += new URL(req.url, 'http://x').searchParams.get('query') || '';
	} catch (e) { /* an unparsable URL: forwarded as it is */ }
	const pause = sql.includes(marker) ? pauseMs : 0;
	if (pause)
		paused++;
	requests++;
	setTimeout(() => {
		const headers = { ...req.headers, host: up.host };
		const out = http.request({ host: up.hostname, port: up.port, method: req.method,
					   path: req.url, headers }, (ans) => {
			res.writeHead(ans.statusCode, ans.headers);
			ans.pipe(res);
			ans.on('end', done);
			ans.on('error', done);
		});
		let finished = false;
		function done() {
			if (finished)
				return;
			finished = true;
			busy = false;
			next();
		}
		out.on('error', (e) => {
			if (!res.headersSent)
				res.writeHead(502);
			res.end(String(e));
			done();
		});
		out.end(body);
	}, pause);
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		queue.push({ req, res, body: Buffer.concat(chunks) });
		next();
	});
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => {
		process.stdout.write(`requests ${requests} paused ${paused}\n`);
		process.exit(0);
	});
