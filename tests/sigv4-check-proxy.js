#!/usr/bin/env node
// sigv4-check-proxy.js UPSTREAM_URL SECRET_ACCESS_KEY LOG
//
// An HTTP proxy in front of s3rver that checks every request's AWS
// Signature V4 (header form), because s3rver 3 does not
// (tests/services/s3rver.sh): tests/integration/contributors-keys.sh points
// labd's storage.s3.endpoint here to prove that keys with UTF-8 and spaces
// are signed with the right canonical URI.  The check is written from the
// AWS specification with Node's crypto, independently of libcurl's signer:
// the canonical URI is built from the DECODED path, every byte outside
// A-Za-z0-9-._~ percent-encoded once with upper-case hex ('/' kept), so a
// request whose path is encoded differently from what it signed fails.
// A request that verifies is forwarded unchanged; one that does not gets
// 403 SignatureDoesNotMatch.  Each request appends a line to LOG:
// "ok METHOD PATH" or "bad METHOD PATH REASON".  Prints "listening PORT"
// once it accepts connections.  Stops on SIGTERM/SIGINT.
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');

if (process.argv.length !== 5) {
	process.stderr.write('usage: sigv4-check-proxy.js UPSTREAM_URL SECRET_ACCESS_KEY LOG\n');
	process.exit(2);
}
const upstream = new URL(process.argv[2]);
const secret = process.argv[3];
const logFd = fs.openSync(process.argv[4], 'a');

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

// RFC 3986 unreserved kept, every other UTF-8 byte as %XX (upper case).
function awsEncode(s) {
	return Buffer.from(s, 'utf8').reduce((out, b) => {
		const c = String.fromCharCode(b);
		return out + (/[A-Za-z0-9\-._~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0'));
	}, '');
}

// The signature the request should carry, or throws with the reason.
function expected(req, auth) {
	const url = new URL(req.url, 'http://x');
	const rawPath = req.url.split('?')[0];
	const uri = rawPath.split('/').map((seg) => awsEncode(decodeURIComponent(seg))).join('/');
	const query = [...url.searchParams.entries()]
		.map(([k, v]) => [awsEncode(k), awsEncode(v)])
		.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
		.map(([k, v]) => k + '=' + v).join('&');
	const signed = auth.signedHeaders.split(';');
	const headers = signed.map((h) => {
		const v = req.headers[h];
		if (v === undefined) throw new Error('signed header ' + h + ' missing');
		return h + ':' + String(v).trim().replace(/\s+/g, ' ') + '\n';
	}).join('');
	const payload = req.headers['x-amz-content-sha256'];
	if (!payload) throw new Error('no x-amz-content-sha256');
	const canonical = [req.method, uri, query, headers, auth.signedHeaders, payload].join('\n');
	const amzDate = req.headers['x-amz-date'];
	if (!amzDate) throw new Error('no x-amz-date');
	const [date, region, service] = auth.scope.split('/');
	const sts = ['AWS4-HMAC-SHA256', amzDate, auth.scope, sha256(canonical)].join('\n');
	let key = hmac('AWS4' + secret, date);
	key = hmac(key, region);
	key = hmac(key, service);
	key = hmac(key, 'aws4_request');
	return hmac(key, sts).toString('hex');
}

function parseAuth(h) {
	const m = /^AWS4-HMAC-SHA256 Credential=[^/]+\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(h || '');
	if (!m) throw new Error('no SigV4 Authorization header');
	return { scope: m[1], signedHeaders: m[2], signature: m[3] };
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		let reason = '';
		try {
			const auth = parseAuth(req.headers.authorization);
			if (expected(req, auth) !== auth.signature) reason = 'SignatureDoesNotMatch';
		} catch (e) {
			reason = e.message.replace(/\s+/g, '_');
		}
		fs.writeSync(logFd, (reason ? 'bad ' : 'ok ') + req.method + ' ' + req.url + (reason ? ' ' + reason : '') + '\n');
		if (reason) {
			res.writeHead(403, { 'content-type': 'application/xml' });
			res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>' +
				'<Message>sigv4-check-proxy: ' + reason + '</Message></Error>');
			return;
		}
		const headers = Object.assign({}, req.headers, { 'content-length': String(body.length) });
		delete headers['transfer-encoding'];
		const up = http.request({
			host: upstream.hostname, port: upstream.port || 80, method: req.method, path: req.url, headers,
		}, (ur) => {
			res.writeHead(ur.statusCode, ur.headers);
			ur.pipe(res);
		});
		up.on('error', (e) => {
			res.writeHead(502, { 'content-type': 'text/plain' });
			res.end('sigv4-check-proxy: upstream: ' + e.message + '\n');
		});
		up.end(body);
	});
});
server.listen(0, '127.0.0.1', () => {
	process.stdout.write('listening ' + server.address().port + '\n');
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => { server.close(); process.exit(0); });
