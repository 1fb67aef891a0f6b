#!/usr/bin/env node
// ch-capture-proxy.js UPSTREAM_URL LOG.jsonl
//
// A recording HTTP proxy for ClickHouse (tests/integration/modern-clickhouse.sh,
// SPEC §11): labd's clickhouse.url points here, every request is forwarded
// unchanged to UPSTREAM_URL (the Debian 18.16 server) except that the
// Accept-Encoding header is dropped, so the answer comes back uncompressed
// and can be read.  Each request that carries SQL (POST body and/or ?query=)
// appends one JSON line to LOG.jsonl:
//   {"url": "/?database=...", "sql": "<final bound SQL as sent>",
//    "status": 200, "rows": N, "header": "<TSVWithNames first line>",
//    "digest": "<sha256 of the sorted data lines>", "error": "<first 2000 bytes
//    of a non-200 answer or of a body holding DB::Exception>"}
// rows/header/digest describe a TabSeparatedWithNames answer (the host asks
// for that format for every statement that returns rows); the digest is over
// the sorted lines so that statements without ORDER BY compare equal.
// Prints "listening PORT" on stdout once it accepts connections (port 0:
// the kernel picks one).  Stops on SIGTERM/SIGINT.
//
// ch-capture-proxy.js UPSTREAM_URL LOG.jsonl COLUMN=VALUE...
// also turns the proxy into a FAKE for a fault the real server cannot be
// made to produce (tests/integration/contributors-parse.sh): in every
// TabSeparatedWithNames answer, each cell of a column named COLUMN is
// replaced by VALUE (e.g. total=nan, slot=18446744073709551616) — a hostile
// or broken ClickHouse answering NaN, inf or out-of-range numbers where the
// real server's types cannot.  The log records the answer as sent to labd.
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');

if (process.argv.length < 4) {
	process.stderr.write('usage: ch-capture-proxy.js UPSTREAM_URL LOG.jsonl [COLUMN=VALUE...]\n');
	process.exit(2);
}
const upstream = new URL(process.argv[2]);
const logFd = fs.openSync(process.argv[3], 'a');
const setCells = new Map(process.argv.slice(4).map((a) => {
	const i = a.indexOf('=');
	if (i <= 0) {
		process.stderr.write('ch-capture-proxy.js: expected COLUMN=VALUE, got ' + a + '\n');
		process.exit(2);
	}
	return [a.slice(0, i), a.slice(i + 1)];
}));

// The body with the cells of the columns named in setCells replaced.
function rewrite(body) {
	const text = body.toString('latin1');
	const lines = text.split('\n');
	const cols = lines[0].split('\t').map((name) => setCells.get(name));
	if (!cols.some((v) => v !== undefined)) return body;
	for (let i = 1; i < lines.length; i++) {
		if (lines[i] === '') continue;
		lines[i] = lines[i].split('\t').map((cell, j) => (cols[j] !== undefined ? cols[j] : cell)).join('\t');
	}
	return Buffer.from(lines.join('\n'), 'latin1');
}

// rows, header and digest of a TabSeparatedWithNames body.
function describe(body) {
	let text = body.toString('latin1'); // bytes as-is: names may be invalid UTF-8
	if (text.endsWith('\n')) text = text.slice(0, -1);
	if (text === '') return { rows: 0, header: '', digest: '' };
	const lines = text.split('\n');
	const header = lines.shift();
	lines.sort();
	const digest = crypto.createHash('sha256').update(lines.join('\n'), 'latin1').digest('hex');
	return { rows: lines.length, header, digest };
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const reqBody = Buffer.concat(chunks);
		const headers = Object.assign({}, req.headers);
		delete headers['accept-encoding'];
		delete headers['host'];
		headers['content-length'] = String(reqBody.length);
		delete headers['transfer-encoding'];
		const up = http.request({
			host: upstream.hostname, port: upstream.port || 80, method: req.method,
			path: req.url, headers,
		}, (ur) => {
			const rc = [];
			ur.on('data', (c) => rc.push(c));
			ur.on('end', () => {
				let body = Buffer.concat(rc);
				if (setCells.size && ur.statusCode === 200) body = rewrite(body);
				const u = new URL(req.url, 'http://x');
				let sql = u.searchParams.get('query') || '';
				const text = reqBody.toString('utf8');
				if (reqBody.length) sql = sql ? sql + '\n' + text : text;
				if (sql.trim() !== '') {
					const rec = { url: req.url, sql, status: ur.statusCode };
					// The replay hands chdb a JS string (sent as UTF-8): it
					// can only repeat bodies that are valid UTF-8 exactly.
					if (!Buffer.from(text, 'utf8').equals(reqBody)) rec.not_utf8 = true;
					const btext = body.toString('latin1');
					if (ur.statusCode !== 200 || btext.includes('DB::Exception')) {
						rec.error = btext.slice(0, 2000);
					} else {
						Object.assign(rec, describe(body));
					}
					fs.writeSync(logFd, JSON.stringify(rec) + '\n');
				}
				const out = {};
				for (const [k, v] of Object.entries(ur.headers)) {
					if (k === 'transfer-encoding' || k === 'content-length' || k === 'connection') continue;
					out[k] = v;
				}
				out['content-length'] = String(body.length);
				res.writeHead(ur.statusCode, out);
				res.end(body);
			});
		});
		up.on('error', (e) => {
			res.writeHead(502, { 'content-type': 'text/plain' });
			res.end('ch-capture-proxy: upstream: ' + e.message + '\n');
		});
		up.end(reqBody);
	});
});
server.listen(0, '127.0.0.1', () => {
	process.stdout.write('listening ' + server.address().port + '\n');
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => { server.close(); process.exit(0); });
