#!/usr/bin/env node
// chdb-replay.js: replays the SQL that labd's plugins sent to ClickHouse 18.16
// on modern ClickHouse (chdb, in-process) — tests/integration/modern-clickhouse.sh,
// SPEC §11.
//
//   node chdb-replay.js --chdb NODE_MODULES_DIR --schema xatu-schema.sql
//        --db-dir DIR [--data XATU_GEN_DIR]... [--counts TABLE_COUNTS.tsv]
//        --capture PLUGIN=CAPTURE.jsonl [--min-templates PLUGIN=N]...
//
// 1. A chdb session in DB_DIR gets the schema (split like
//    tests/fixtures/load-schema.sh, unchanged) and every TABLE.tsv of each
//    xatu-gen directory (INSERT INTO TABLE FROM INFILE ... FORMAT TabSeparated,
//    with optimize_on_insert = 0 and merges stopped: every row is kept as on 18.16);
//    with --counts, each table's row count must equal 18.16's.
// 2. Every distinct statement of each capture (written by ch-capture-proxy.js)
//    runs in the session exactly as labd sent it (bound values, the host's
//    FORMAT TabSeparatedWithNames), in the database named by ?database= and
//    with the request's other URL settings applied first (SET k = v).
//    Failures: an error on chdb, an error on 18.16, a different row count.
//    A different row set (sorted data lines) or header is reported, and is a
//    failure too unless LABD_CHDB_ALLOW_DIFF=1.
// 3. --min-templates: a plugin whose capture holds fewer distinct statement
//    shapes (literals replaced, IN lists collapsed) than N fails: a flow that
//    stopped sending a query would otherwise pass unnoticed.
// Prints one line per plugin and a final "N passed, N failed" line.
'use strict';
process.env.TZ = 'UTC'; // as the 18.16 server of tests/services/clickhouse.sh
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const args = { data: [], capture: [], minTemplates: {} };
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i];
	const v = process.argv[++i];
	if (v === undefined) usage();
	switch (a) {
	case '--chdb': args.chdb = v; break;
	case '--schema': args.schema = v; break;
	case '--db-dir': args.dbDir = v; break;
	case '--data': args.data.push(v); break;
	case '--counts': args.counts = v; break;
	case '--capture': {
		const k = v.indexOf('=');
		if (k < 1) usage();
		args.capture.push([v.slice(0, k), v.slice(k + 1)]);
		break;
	}
	case '--min-templates': {
		const k = v.indexOf('=');
		if (k < 1) usage();
		args.minTemplates[v.slice(0, k)] = Number(v.slice(k + 1));
		break;
	}
	default: usage();
	}
}
if (!args.chdb || !args.schema || !args.dbDir || !args.capture.length) usage();

function usage() {
	process.stderr.write('usage: chdb-replay.js --chdb DIR --schema FILE --db-dir DIR [--data DIR]...\n' +
		'       [--counts FILE] --capture PLUGIN=FILE... [--min-templates PLUGIN=N]...\n');
	process.exit(2);
}

const { Session, query: q0 } = require(path.join(args.chdb, 'chdb'));
const allowDiff = process.env.LABD_CHDB_ALLOW_DIFF === '1';
const verbose = process.env.LABD_CHDB_VERBOSE === '1';
let passed = 0, failed = 0;
const ok = (m) => { passed++; console.log('ok - ' + m); };
const bad = (m) => { failed++; console.log('not ok - ' + m); };

console.log('# chdb ' + q0('SELECT version()', 'TSV').toString().trim());
fs.rmSync(args.dbDir, { recursive: true, force: true });
const s = new Session(args.dbDir);
// Raw bytes, read as latin1 like the proxy does: client names may be invalid UTF-8.
const run = async (sql) => Buffer.from((await s.queryAsync(sql, { format: 'TabSeparated' })).bytes()).toString('latin1');

main().catch((e) => { bad('replay: ' + (e && e.stack || e)); finish(); });

async function main() {

// ---- 1. schema and data ------------------------------------------------------
function statements(text) { // as load-schema.sh: drop -- lines, split at ';' line ends
	const out = [];
	let cur = '';
	for (const line of text.split('\n')) {
		if (/^[ \t]*--/.test(line)) continue;
		if (/^[ \t]*$/.test(line) && cur === '') continue;
		cur += line + '\n';
		if (/;[ \t]*$/.test(line)) { out.push(cur.replace(/;[ \t]*\n$/, '\n')); cur = ''; }
	}
	if (/[^ \t\n]/.test(cur)) out.push(cur);
	return out;
}

// Every capture names its database; the schema and data go into each.
const caps = args.capture.map(([plugin, file]) => {
	const recs = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
	return { plugin, file, recs };
});
const dbs = new Set();
for (const c of caps) for (const r of c.recs) dbs.add(new URL(r.url, 'http://x').searchParams.get('database') || 'default');
if (!dbs.size) dbs.add('default');
const schema = statements(fs.readFileSync(args.schema, 'utf8'));
let t0 = Date.now();
let loadErr = null;
for (const db of dbs) {
	try {
		await run(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
		await run(`USE \`${db}\``);
		for (const st of schema) await run(st);
		// Modern servers collapse rows of one INSERT that share a
		// ReplacingMergeTree sorting key (optimize_on_insert, default 1
		// since 20.x); 18.16 stores them all and so must chdb here, or the
		// queries that read without FINAL see other rows.  Merges are
		// stopped for the same reason (18.16's data is one part per
		// partition too).
		await run('SET optimize_on_insert = 0');
		await run('SYSTEM STOP MERGES');
		for (const dir of args.data) {
			for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.tsv')).sort()) {
				const table = f.slice(0, -4);
				if (!/^[a-z0-9_]+$/.test(table)) throw new Error('odd file name ' + f);
				const abs = path.resolve(dir, f).replace(/\\/g, '\\\\').replace(/'/g, "\\'");
				await run(`INSERT INTO ${table} FROM INFILE '${abs}' FORMAT TabSeparated`);
			}
		}
	} catch (e) {
		loadErr = e.message;
		break;
	}
}
if (loadErr) {
	bad('schema and data load on chdb: ' + loadErr);
	finish();
}
ok(`schema (${schema.length} statements) and ${args.data.length} xatu-gen data sets load on chdb unchanged (${Date.now() - t0} ms)`);
if (args.counts) {
	let diffs = [];
	for (const line of fs.readFileSync(args.counts, 'utf8').split('\n').filter((l) => l)) {
		const [table, n] = line.split('\t');
		for (const db of dbs) {
			const got = (await run(`SELECT count() FROM \`${db}\`.${table}`)).trim();
			if (got !== n) diffs.push(`${db}.${table}: 18.16 ${n}, chdb ${got}`);
		}
	}
	if (diffs.length) bad('table row counts differ: ' + diffs.join('; '));
	else ok('every table holds as many rows on chdb as on 18.16');
}

// ---- 2. replay -------------------------------------------------------------------
function describe(text) { // the same as ch-capture-proxy.js
	if (text.endsWith('\n')) text = text.slice(0, -1);
	if (text === '') return { rows: 0, header: '', digest: '' };
	const lines = text.split('\n');
	const header = lines.shift();
	lines.sort();
	return { rows: lines.length, header, digest: crypto.createHash('sha256').update(lines.join('\n'), 'latin1').digest('hex') };
}

function shape(sql) { // the statement with its bound values taken out
	return sql
		.replace(/'(?:[^'\\]|\\.)*'/g, '?')
		.replace(/toDateTime\(\d+\)/g, '?')
		.replace(/(^|[^\w.])-?\d+(\.\d+)?(?![\w.])/g, '$1?')
		.replace(/\?(\s*,\s*\?)+/g, '?...');
}

const SKIP_PARAMS = new Set(['database', 'query', 'enable_http_compression', 'user', 'password',
	'default_format', 'query_id', 'session_id', 'session_timeout', 'compress', 'decompress']);
let currentDb = null;
const applied = new Map();

function clip(sql, n) { return sql.length > n ? sql.slice(0, n) + ' ...[' + sql.length + ' bytes]' : sql; }

for (const c of caps) {
	t0 = Date.now();
	const seen = new Map(); // sql -> first record
	for (const r of c.recs) if (!seen.has(r.sql)) seen.set(r.sql, r);
	const shapes = new Map(); // shape -> { n, errors }
	let errors = 0, oldErrors = 0, countDiff = 0, rowDiff = 0, headDiff = 0, rows = 0;
	const notes = [];
	for (const [sql, r] of seen) {
		const sh = shape(sql);
		if (!shapes.has(sh)) shapes.set(sh, 0);
		shapes.set(sh, shapes.get(sh) + 1);
		if (r.not_utf8) {
			errors++;
			notes.push(`the request body is not valid UTF-8 and cannot be replayed byte-exactly:\n    ${clip(sql, 400)}`);
			continue;
		}
		const u = new URL(r.url, 'http://x');
		const db = u.searchParams.get('database') || 'default';
		try {
			if (db !== currentDb) { await run(`USE \`${db}\``); currentDb = db; }
			for (const [k, v] of u.searchParams) {
				if (SKIP_PARAMS.has(k) || !/^[a-z_0-9]+$/.test(k)) continue;
				if (applied.get(k) === v) continue;
				await run(`SET ${k} = ${/^-?\d+(\.\d+)?$/.test(v) ? v : "'" + v.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'"}`);
				applied.set(k, v);
			}
		} catch (e) {
			errors++;
			notes.push(`chdb cannot apply the request settings ${r.url}: ${e.message}`);
			continue;
		}
		if (r.status !== 200 || r.error) {
			oldErrors++;
			notes.push(`18.16 answered ${r.status} to:\n    ${clip(sql, 400)}\n    ${(r.error || '').trim().slice(0, 400)}`);
		}
		let out;
		try {
			out = await run(sql);
		} catch (e) {
			errors++;
			notes.push(`chdb error:\n    ${clip(sql, 4000)}\n    ${e.message.trim()}`);
			continue;
		}
		if (r.status !== 200 || r.error) continue;
		const d = describe(out);
		rows += d.rows;
		if (d.rows !== r.rows) {
			countDiff++;
			notes.push(`row count differs (18.16 ${r.rows}, chdb ${d.rows}):\n    ${clip(sql, 600)}`);
		} else if (d.digest !== r.digest) {
			rowDiff++;
			notes.push(`rows differ (same count ${d.rows}):\n    ${clip(sql, 600)}` +
				(verbose ? '\n    chdb first rows:\n' + out.split('\n').slice(0, 4).join('\n') : ''));
		}
		if (d.rows && r.header && d.header !== r.header) {
			headDiff++;
			if (headDiff <= 2 || verbose) notes.push(`column names differ (only informative, the plugins read by position):\n    18.16: ${r.header}\n    chdb:  ${d.header}`);
		}
	}
	const ms = Date.now() - t0;
	const min = args.minTemplates[c.plugin] || 0;
	const summary = `${c.plugin}: ${c.recs.length} requests, ${seen.size} distinct statements, ${shapes.size} shapes, ` +
		`${rows} rows; chdb errors ${errors}, 18.16 errors ${oldErrors}, row count diffs ${countDiff}, ` +
		`row diffs ${rowDiff}, header diffs ${headDiff} (${ms} ms)`;
	for (const n of notes) console.log('# ' + n.replace(/\n/g, '\n# '));
	if (verbose) for (const [sh, n] of shapes) console.log(`#   shape x${n}: ${clip(sh, 300)}`);
	const fail = errors || oldErrors || countDiff || (rowDiff && !allowDiff) || seen.size === 0 || shapes.size < min;
	if (shapes.size < min) console.log(`# ${c.plugin}: expected at least ${min} statement shapes, got ${shapes.size}`);
	if (fail) bad(summary); else ok(summary);
}
finish();
}

function finish() {
	try { s.cleanup(); } catch (e) { /* the directory goes with the test's */ }
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}
