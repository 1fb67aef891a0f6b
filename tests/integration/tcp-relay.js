#!/usr/bin/env node
// tcp-relay.js HOST:PORT
//
// A test harness, not product code: a TCP relay on 127.0.0.1 that pipes
// every connection to HOST:PORT.  It prints "listening PORT" on stdout once
// it accepts connections.  Stopping it with SIGSTOP freezes every
// connection through it without closing any (the peers see a silent
// network, as with a cut cable), SIGCONT resumes them:
// tests/integration/cluster-stale.sh cuts one daemon off nats-server that
// way while its other connections (ClickHouse, storage) keep working.
'use strict';
const net = require('net');

const target = process.argv[2] || '';
const m = /^(.*):(\d+)$/.exec(target);
if (!m) {
	process.stderr.write('usage: tcp-relay.js HOST:PORT\n');
	process.exit(2);
}
const server = net.createServer((c) => {
	const u = net.connect({ host: m[1], port: Number(m[2]) });
	c.pipe(u);
	u.pipe(c);
	c.on('error', () => u.destroy());
	u.on('error', () => c.destroy());
	c.on('close', () => u.destroy());
	u.on('close', () => c.destroy());
});
server.listen(0, '127.0.0.1', () => {
	process.stdout.write(`listening ${server.address().port}\n`);
});
for (const s of ['SIGTERM', 'SIGINT'])
	process.on(s, () => process.exit(0));
