#!/usr/bin/env node
// relay.js UPSTREAM_URL [--delay-ms N] [--log FILE]
//
// A test harness, not product code: an HTTP relay on 127.0.0.1 that
// forwards every request to UPSTREAM_URL concurrently (unlike
// tests/bench/ch-pace-proxy.js, which serialises), optionally
//   --delay-ms N  holding each request N ms before forwarding it: in front
//                 of ClickHouse it simulates a remote cluster (network round
//                 trips) on a machine whose 2 cores would otherwise make
//                 ClickHouse's CPU, not the daemons, the bottleneck
//                 (tests/bench/cluster.sh);
//   --log FILE    appending "METHOD PATH STATUS" per answered request (and,
//                 with --delay-ms, "HELD METHOD PATH" when one arrives): in
//                 front of s3rver it counts the PUTs of every key
//                 (tests/integration/cluster-plugins.sh: each slot document stored
//                 exactly once across three daemons).
// The Host header is passed on unchanged, so S3 signatures (which cover it)
// still verify.  Prints "listening PORT" on stdout once it accepts
// connections; exits on SIGTERM/SIGINT.
'use strict';
const http = require('http');
const fs = require('fs');

const args = process.argv.slice(2);
const upstream = args.shift();
let delayMs = 0, logFile = null;
while (args.length) {
	const a = args.shift();
	if (a === '--delay-ms') delayMs = Number(args.shift());
	else if (a === '--log') logFile = args.shift();
	else { process.stderr.write(`relay.js: unknown argument ${a}\n`); process.exit(2); }
}
if (!upstream || !(delayMs >= 0)) {
	process.stderr.write('usage: relay.js UPSTREAM_URL [--delay-ms N] [--log FILE]\n');
	process.exit(2);
}
const up = new URL(upstream);
const log = logFile ? fs.openSync(logFile, 'a') : null;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		// A held request is logged on arrival too, so a test can act while
		// it is in flight (tests/integration/cluster-stale.sh).
		if (log && delayMs > 0)
			fs.writeSync(log, `HELD ${req.method} ${req.url.split('?')[0]}\n`);
		setTimeout(() => forward(req, res, chunks), delayMs);
	});
});

// Sends a received request upstream and its answer back.
function forward(req, res, chunks) {
	const body = Buffer.concat(chunks);
	const out = http.request({ host: up.hostname, port: up.port, method: req.method,
				   path: req.url, headers: req.headers, agent }, (ans) => {
		res.writeHead(ans.statusCode, ans.headers);
		ans.pipe(res);
		ans.on('end', () => {
			if (log)
				fs.writeSync(log, `${req.method} ${req.url.split('?')[0]} ${ans.statusCode}\n`);
		});
	});
	out.on('error', (e) => {
		if (!res.headersSent)
			res.writeHead(502);
		res.end(String(e));
	});
	out.end(body);
}
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
	process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => process.exit(0));
