// retrace show on real recordings: an HTTP server with its own client (keep-alive, a chunked
// response, an error status), PostgreSQL, MariaDB and Redis through their usual clients against
// the local servers (skipped, saying why, when a server is absent), the clocks, randomness, timers
// and files of a plain program, a crash, and bad arguments. The recordings are made by the real
// CLI; show runs on them as a user would, with no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRun, record, retraceOffline, workdir, writeFiles, type Run } from './helpers.js';
import { libraryWorkdir, skipUnlessServer, uniqueName } from './network-helpers.js';

/** `retrace show ...` with no network at all: show only reads the recording. */
function show(cwd: string, args: string[]): Run {
  return retraceOffline(cwd, ['show', ...args], { timeout: 180_000 });
}

/** The timeline lines (without the `# p0: ...` header). */
function lines(r: Run): string[] {
  return r.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
}

function jsonLines(r: Run): Record<string, any>[] {
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

const HTTP_APP = `
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/orders' && req.method === 'POST') {
      const order = JSON.parse(body);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 42, item: order.item, lucky: Math.floor(Math.random() * 1000) }));
    } else if (req.url === '/gz') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(JSON.stringify({ packed: true })));
    } else if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"parts": [');
      setTimeout(() => res.end('1, 2, 3]}'), 5);
    } else {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('try later');
    }
  });
});
server.listen(0, '127.0.0.1', async () => {
  const base = 'http://127.0.0.1:' + server.address().port;
  const created = await fetch(base + '/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item: 'tea', qty: 2 }) });
  console.log('created', created.status, await created.text());
  const streamed = await fetch(base + '/stream');
  console.log('streamed', await streamed.text());
  const busy = await new Promise((resolve) => http.get(base + '/busy?x=1', (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); }));
  console.log('busy', busy);
  console.log('gz', await (await fetch(base + '/gz')).json());
  // Two requests pipelined in one write on a raw socket.
  const raw = net.connect(server.address().port, '127.0.0.1', () => raw.write('GET /busy?p=1 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /busy?p=2 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
  let replies = '';
  raw.on('data', (d) => (replies += d));
  await new Promise((resolve) => raw.on('end', resolve));
  console.log('pipelined', (replies.match(/HTTP\\/1\\.1 503/g) || []).length);
  server.close();
  server.closeAllConnections();
});
`;

test('show: inbound and outbound HTTP with methods, paths, statuses and durations; one exchange in full', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': HTTP_APP });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const r = show(dir, ['recording']);
  assert.equal(r.status, 0, describeRun(r));
  const all = lines(r);
  const line = (re: RegExp) => {
    const found = all.find((l) => re.test(l));
    assert.ok(found, `no line matching ${re} in:\n${r.stdout}`);
    return found!;
  };
  line(/http\.in\s+POST \/orders → 201 \(\d+(\.\d)? ms\)/);
  line(/http\.out\s+POST http:\/\/127\.0\.0\.1:\d+\/orders → 201 \(/);
  line(/http\.in\s+GET \/stream → 200 \(/);
  line(/http\.out\s+GET http:\/\/127\.0\.0\.1:\d+\/busy\?x=1 → 503 \(/);
  line(/net\s+listen on 127\.0\.0\.1:\d+/);
  // Lines come in event order, each with a time offset, a process and an event number.
  const events = all.map((l) => Number(/#(\d+)/.exec(l)![1]));
  assert.deepEqual(events, [...events].sort((a, b) => a - b));
  for (const l of all) assert.match(l, /^\s*\+\d+\.\d{3}ms  p0  #\d+/);

  // --kind and --json: one object per line, for tools.
  const inbound = jsonLines(show(dir, ['recording', '--kind', 'http.in', '--json']));
  assert.deepEqual(
    inbound.map((e) => [e.fields.method, e.fields.url, e.fields.status]),
    [['POST', '/orders', 201], ['GET', '/stream', 200], ['GET', '/busy?x=1', 503], ['GET', '/gz', 200], ['GET', '/busy?p=1', 503], ['GET', '/busy?p=2', 503]],
  );
  // A gzip body is shown decompressed.
  const gz = JSON.parse(show(dir, ['recording', '--event', String(inbound[3]!.event), '--json']).stdout) as { detail: { response: { body: unknown } } };
  assert.deepEqual(gz.detail.response.body, { packed: true });
  assert.ok(inbound.every((e) => e.kind === 'http.in' && typeof e.fields.durationMs === 'number' && e.fields.durationMs >= 0));

  // --event N: the request and the response with headers, JSON bodies pretty-printed, the chunked
  // body put back together.
  const post = inbound[0]!;
  const full = show(dir, ['recording', '--event', String(post.event)]);
  assert.equal(full.status, 0, describeRun(full));
  assert.match(full.stdout, /POST \/orders HTTP\/1\.1/);
  assert.match(full.stdout, /content-type: application\/json/i);
  assert.match(full.stdout, /"item": "tea",\n\s+"qty": 2/);
  assert.match(full.stdout, /HTTP\/1\.1 201 Created/);
  assert.match(full.stdout, /"id": 42/);
  const stream = show(dir, ['recording', '--event', String(inbound[1]!.event), '--json']);
  const detail = JSON.parse(stream.stdout) as { detail: { response: { body: unknown; headers: [string, string][] } } };
  assert.deepEqual(detail.detail.response.body, { parts: [1, 2, 3] });
  assert.ok(detail.detail.response.headers.some(([k, v]) => /transfer-encoding/i.test(k) && v === 'chunked'));

  // --grep and a time range.
  const grep = lines(show(dir, ['recording', '--grep', 'busy']));
  assert.ok(grep.length >= 6 && grep.every((l) => l.includes('busy')), grep.join('\n'));
  // The pipelined pair, seen from the raw client too: paired with their responses in order.
  assert.equal(grep.filter((l) => /http\.out\s+GET http:\/\/x\/busy\?p=[12] → 503/.test(l)).length, 2, grep.join('\n'));
  assert.equal(lines(show(dir, ['recording', '--from', '0', '--to', '0.000001'])).filter((l) => / http\./.test(l)).length, 0);
});

test('show: clocks, randomness, timers, file reads, the environment, and the crash with its exception', () => {
  const dir = workdir();
  writeFiles(dir, {
    'config.json': '{"rate": 0.2}',
    'app.mjs': `
import fs from 'node:fs';
const config = JSON.parse(fs.readFileSync(new URL('./config.json', import.meta.url), 'utf8'));
const started = Date.now();
const pick = Math.random();
console.log(process.env.SHOW_TEST_VAR, config.rate, started > 0, pick < 1);
setTimeout(() => {
  const order = { total: 10 };
  throw new TypeError('boom: no price for ' + order.item);
}, 15);
`,
  });
  const rec = record(dir, ['node', 'app.mjs'], { env: { SHOW_TEST_VAR: 'seen' } });
  assert.equal(rec.status, 1, describeRun(rec));
  const r = show(dir, []);
  assert.equal(r.status, 0, describeRun(r));
  const out = r.stdout;
  assert.match(out, /fs\s+readFileSync \S*config\.json "utf8" → "\{\\"rate\\": 0\.2\}"/);
  assert.match(out, /time\s+Date\.now → \d{4}-\d\d-\d\dT/);
  assert.match(out, /random\s+Math\.random → 0\.\d+/);
  assert.match(out, /timer\s+setTimeout 15 ms \(timer \d+\)/);
  assert.match(out, /timer\s+timer \d+ fired: setTimeout 15 ms, set at event \d+/);
  assert.match(out, /env\s+environment: \d+ variables/);
  const crash = lines(show(dir, ['--kind', 'crash']));
  assert.equal(crash.length, 1, crash.join('\n'));
  assert.match(crash[0]!, /crash\s+uncaught TypeError: boom: no price for undefined at \S*app\.mjs:9:\d+ \(exit status 1\)/);
  const event = /#(\d+)/.exec(crash[0]!)![1]!;
  const full = show(dir, ['--event', event]);
  assert.match(full.stdout, /TypeError: boom: no price for undefined\n\s+at .*app\.mjs:9/);
  // The environment in full, for `--event` on it.
  const env = lines(show(dir, ['--kind', 'env', '--json']));
  const envEvent = (JSON.parse(env[0]!) as { event: number }).event;
  assert.match(show(dir, ['--event', String(envEvent)]).stdout, /SHOW_TEST_VAR: 'seen'/);
});

test('show: bad arguments get one line and exit status 2', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': 'console.log(Math.random() < 1)' });
  assert.equal(record(dir, ['node', 'app.js']).status, 0);
  const cases: [string[], RegExp][] = [
    [['no-such-folder'], /^retrace: no recording at no-such-folder\n$/],
    [['recording', '--event', '99999'], /^retrace: event 99999 is not in this recording \(process 0 has \d+ events, numbered from 0\)\n$/],
    [['recording', '--event', 'x'], /^retrace: --event takes a whole number, not "x"\n$/],
    [['recording', '--kind', 'smtp'], /^retrace: unknown kind "smtp" for --kind; kinds: /],
    [['recording', '--process', '7'], /^retrace: the recording has no process 7 \(it has 0\)\n$/],
    [['recording', '--from', '10', '--to', '5'], /^retrace: --to 5 is before --from 10\n$/],
    [['recording', '--bogus'], /^retrace: unknown option for show: --bogus\n$/],
  ];
  for (const [args, message] of cases) {
    const r = show(dir, args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${describeRun(r)}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

const PG_APP = `
import pg from 'pg';
const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await client.connect();
const table = process.env.TABLE;
await client.query(\`CREATE TEMP TABLE \${table} (id int PRIMARY KEY, name text, price numeric)\`);
await client.query(\`INSERT INTO \${table} VALUES (7, 'tea', 3.5), (8, 'cake', 4.25)\`);
const one = await client.query(\`SELECT price FROM \${table} WHERE id = $1\`, [7]);
const named = await client.query({ name: 'by-name', text: \`SELECT id, name FROM \${table} WHERE name = $1\`, values: ['cake'] });
const again = await client.query({ name: 'by-name', text: \`SELECT id, name FROM \${table} WHERE name = $1\`, values: ['tea'] });
try { await client.query('SELEC 1'); } catch (err) { console.log('error', err.code); }
console.log(one.rows[0].price, named.rows[0].id, again.rows[0].id, (await client.query('SELECT random() AS r')).rows.length);
await client.end();
`;

test('show: PostgreSQL queries with their text, parameters, row counts and rows', async (t) => {
  const why = await skipUnlessServer('PostgreSQL', 5432);
  if (why) return t.skip(why);
  const table = uniqueName('show_pg');
  const dir = libraryWorkdir({ 'app.mjs': PG_APP });
  const rec = record(dir, ['node', 'app.mjs'], { env: { TABLE: table } });
  assert.equal(rec.status, 0, describeRun(rec));
  const r = show(dir, ['--kind', 'sql']);
  assert.equal(r.status, 0, describeRun(r));
  const out = lines(r);
  const find = (re: RegExp) => {
    const l = out.find((x) => re.test(x));
    assert.ok(l, `no line matching ${re} in:\n${r.stdout}`);
    return l!;
  };
  find(/pg\s+connect postgres@test → ready \(/);
  find(new RegExp(`pg\\s+INSERT INTO ${table} VALUES \\(7, 'tea', 3\\.5\\), \\(8, 'cake', 4\\.25\\) → INSERT 2 rows`));
  const select = find(new RegExp(`pg\\s+SELECT price FROM ${table} WHERE id = \\$1 \\["7"\\] → 1 row \\(`));
  find(new RegExp(`SELECT id, name FROM ${table} WHERE name = \\$1 \\["cake"\\] → 1 row`));
  // The second run of the named statement sends no query text: it is known from the first.
  find(new RegExp(`SELECT id, name FROM ${table} WHERE name = \\$1 \\["tea"\\] → 1 row`));
  find(/pg\s+SELEC 1 → ERROR 42601: syntax error at or near "SELEC"/);
  const full = show(dir, ['--event', /#(\d+)/.exec(select)![1]!]);
  assert.match(full.stdout, /parameters:\n\s+\$1 = "7"/);
  assert.match(full.stdout, /SELECT 1: 1 row\n\s+price\n\s+─+\n\s+3\.5/);
  const json = jsonLines(show(dir, ['--kind', 'pg', '--json', '--grep', 'where name']));
  assert.deepEqual(json.map((e) => [e.fields.params, e.fields.rowCount]), [[['cake'], 1], [['tea'], 1]]);
});

const MYSQL_APP = `
import mysql from 'mysql2/promise';
const db = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: 'test' });
const [rows] = await db.query('SELECT ? + 1 AS n, ? AS word', [41, 'hi']);
const [prepared] = await db.execute('SELECT ? * 2 AS doubled, CAST(? AS DATETIME) AS at', [21, '2024-02-03 04:05:06']);
try { await db.query('SELECT * FROM no_such_table_here'); } catch (err) { console.log('error', err.code); }
console.log(rows[0].n, prepared[0].doubled);
await db.end();
`;

test('show: MySQL text and prepared statements with parameters and binary rows', async (t) => {
  const why = await skipUnlessServer('MariaDB', 3306);
  if (why) return t.skip(why);
  const dir = libraryWorkdir({ 'app.mjs': MYSQL_APP });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const r = show(dir, ['--kind', 'mysql']);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stdout, /mysql\s+connect root@test → ok \(/);
  assert.match(r.stdout, /mysql\s+SELECT 41 \+ 1 AS n, 'hi' AS word → 1 row \(/);
  assert.match(r.stdout, /mysql\s+prepare SELECT \? \* 2 AS doubled, CAST\(\? AS DATETIME\) AS at → statement \d+, 2 parameters/);
  const execute = lines(r).find((l) => /SELECT \? \* 2 AS doubled, CAST\(\? AS DATETIME\) AS at \[21, "2024-02-03 04:05:06"\] → 1 row/.test(l));
  assert.ok(execute, r.stdout);
  assert.match(r.stdout, /SELECT \* FROM no_such_table_here → ERROR 1146 \(42S02\): Table 'test\.no_such_table_here' doesn't exist/);
  const full = show(dir, ['--event', /#(\d+)/.exec(execute!)![1]!, '--json']);
  const detail = (JSON.parse(full.stdout) as { detail: { results: { columns: string[]; rows: unknown[][] }[] } }).detail;
  assert.deepEqual(detail.results[0]!.columns, ['doubled', 'at']);
  assert.deepEqual(detail.results[0]!.rows, [[42, '2024-02-03 04:05:06']]);
});

const REDIS_APP = `
import Redis from 'ioredis';
const key = process.env.KEY;
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
const sub = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
await redis.connect();
await sub.connect();
await redis.set(key, JSON.stringify({ user: 42, cart: ['tea'] }));
const value = await redis.get(key);
const [[, a], [, b]] = await redis.pipeline().incr(key + ':n').incr(key + ':n').exec();
const message = new Promise((resolve) => sub.on('message', (channel, text) => resolve(text)));
await sub.subscribe(key + ':news');
await redis.publish(key + ':news', 'hello subscribers');
console.log(value.length, a, b, await message);
await redis.del(key, key + ':n');
redis.disconnect();
sub.disconnect();
`;

test('show: Redis commands, pipelines and pub/sub messages', async (t) => {
  const why = await skipUnlessServer('Redis', 6379);
  if (why) return t.skip(why);
  const key = uniqueName('show_redis');
  const dir = libraryWorkdir({ 'app.mjs': REDIS_APP });
  const rec = record(dir, ['node', 'app.mjs'], { env: { KEY: key } });
  assert.equal(rec.status, 0, describeRun(rec));
  const r = show(dir, ['--kind', 'redis']);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stdout, new RegExp(`redis\\s+SET ${key} "\\{\\\\"user\\\\":42,\\\\"cart\\\\":\\[\\\\"tea\\\\"\\]\\}" → OK \\(`));
  assert.match(r.stdout, new RegExp(`redis\\s+GET ${key} → "\\{\\\\"user\\\\":42`));
  assert.match(r.stdout, new RegExp(`redis\\s+INCR ${key}:n → \\(integer\\) 1 \\(`));
  assert.match(r.stdout, new RegExp(`redis\\s+INCR ${key}:n → \\(integer\\) 2 \\(`));
  assert.match(r.stdout, new RegExp(`redis\\s+SUBSCRIBE ${key}:news → \\[`));
  assert.match(r.stdout, new RegExp(`redis\\s+PUBLISH ${key}:news "hello subscribers" → \\(integer\\) 1`));
  assert.match(r.stdout, new RegExp(`redis\\s+message on ${key}:news: "hello subscribers"`));
});
