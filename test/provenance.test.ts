// `retrace why` end to end through the real CLI: bad arguments, the shop scenario (an Express
// server reading PostgreSQL through pg: where a 0.00 total came from), the AI-agent scenario (the
// model's reply that made JSON.parse throw, back to the bytes of the recorded HTTP response),
// TypeScript run natively, the HTML page, and the memory cap. Replays run offline.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { describeRun, workdir, writeFiles, offlineCommand } from './helpers.js';
import { libraryWorkdir, request, skipUnlessServer, startServer, uniqueName } from './network-helpers.js';
import { lineOf, nodes, recordAsync, recordProgram, renderTree, type WhyResult } from './provenance-helpers.js';
import { spawnSync } from 'node:child_process';
import { cli } from './helpers.js';

/** `retrace why ... --json` offline (no network), parsed. */
function whyOffline(dir: string, args: string[]): { status: number | null; stdout: string; stderr: string; result?: WhyResult } {
  return runWhy(dir, ['recording', ...args]);
}

/** `retrace why <args>` in a network namespace with no network at all . */
function runWhy(dir: string, args: string[]): { status: number | null; stdout: string; stderr: string; result?: WhyResult } {
  const argv = [cli, 'why', ...args];
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('RETRACE_')) delete env[k];
  const [command, ...rest] = offlineCommand([process.execPath, ...argv]);
  const r = spawnSync(command!, rest, { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
  const out = { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
  if (r.status === 0 && args.includes('--json')) return { ...out, result: JSON.parse(out.stdout) as WhyResult };
  return out;
}

function details(result: WhyResult): string[] {
  return [...nodes(result.lineage)].filter((n) => n.origin).map((n) => `${n.origin!.kind}: ${n.origin!.detail}`);
}

describe('why: arguments', () => {
  const program = `const price = Number(process.env.PRICE);\nconst total = price * 3;\nconsole.log(JSON.stringify({ total })); // @at\n`;
  let dir = '';
  before(() => {
    dir = recordProgram({ 'app.mjs': program }, { env: { PRICE: '4' } }).dir;
  });

  test('bad arguments and locations: one line, exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['recording', '--expr', 'total'], /needs --at/],
      [['recording', '--at', 'app.mjs:3'], /needs --expr/],
      [['recording', '--at', 'app.mjs', '--expr', 'total'], /--at takes FILE:LINE/],
      [['recording', '--at', 'nope.mjs:3', '--expr', 'total'], /no source file nope\.mjs/],
      [['recording', '--at', 'app.mjs:99', '--expr', 'total'], /has 4 lines, not 99/],
      [['recording', '--at', 'app.mjs:3', '--expr', 'total', '--hit', '0'], /--hit takes a positive whole number or "last"/],
      [['recording', '--at', 'app.mjs:3', '--expr', 'total +'], /is not an expression/],
      [['recording', '--at', 'app.mjs:3', '--expr', 'nosuchname'], /nosuchname could not be evaluated at app\.mjs:3: ReferenceError/],
      [['recording', '--at', 'app.mjs:3', '--expr', 'total', '--hit', '2'], /hit 2 of app\.mjs:3 never came: it ran 1 time/],
      [['elsewhere', '--at', 'app.mjs:3', '--expr', 'total'], /no recording at elsewhere/],
      [['recording', '--at', 'app.mjs:3', '--expr', 'total', '--bogus'], /unknown option for why: --bogus/],
    ];
    for (const [args, message] of cases) {
      const r = runWhy(dir, args);
      assert.equal(r.status, 2, `${args.join(' ')}\n${r.stdout + r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
      assert.match(lines[0]!, /^retrace: /);
      assert.match(lines[0]!, message);
    }
  });

  test('text output, --json and --html describe the same lineage', () => {
    const text = whyOffline(dir, ['--at', 'app.mjs:3', '--expr', 'total']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^total = 12 at app\.mjs:3:1 \(hit 1 of 1\)/);
    assert.match(text.stdout, /env PRICE/);
    assert.match(text.stdout, /literal 3 at app\.mjs:2/);
    const json = whyOffline(dir, ['--at', 'app.mjs:3', '--expr', 'total * 2', '--json']);
    assert.equal(json.status, 0, json.stderr);
    assert.equal(json.result!.value, '24');
    assert.equal(json.result!.lineage.op, '*');
    assert.ok(details(json.result!).some((d) => /^env: env PRICE/.test(d)), details(json.result!).join('\n'));
    const page = path.join(dir, 'why.html');
    const html = whyOffline(dir, ['--at', 'app.mjs:3', '--expr', 'total', '--html', page]);
    assert.equal(html.status, 0, html.stderr);
    const content = fs.readFileSync(page, 'utf8');
    assert.match(content, /<svg|<script>/);
    assert.match(content, /env PRICE/);
  });
});

describe('why: the shop scenario (Express and PostgreSQL)', () => {
  let skip: string | undefined;
  const products = uniqueName('why_products');
  const coupons = uniqueName('why_coupons');
  const pgAdmin = async (sql: string) => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  before(async () => {
    skip = await skipUnlessServer('PostgreSQL', 5432);
    if (skip) return;
    await pgAdmin(`CREATE TABLE ${products} (sku text PRIMARY KEY, price numeric(10,2)); CREATE TABLE ${coupons} (code text PRIMARY KEY, percent integer);
      INSERT INTO ${products} VALUES ('A1', 12.50), ('B2', 7.00); INSERT INTO ${coupons} VALUES ('WELCOME', 100), ('TEN', 10);`);
  });
  after(async () => {
    if (!skip) await pgAdmin(`DROP TABLE IF EXISTS ${products}; DROP TABLE IF EXISTS ${coupons};`);
  });

  const shop = () => `
import express from 'express';
import pg from 'pg';
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 2 });
const app = express();
app.use(express.json());
async function priceOf(sku) {
  const { rows } = await pool.query('SELECT price FROM ${products} WHERE sku = $1', [sku]);
  return Number(rows[0].price);
}
let served = 0;
app.post('/orders', async (req, res) => {
  const { items, coupon } = req.body;
  let subtotal = 0;
  for (const item of items) subtotal += (await priceOf(item.sku)) * item.qty;
  const found = await pool.query('SELECT percent FROM ${coupons} WHERE code = $1', [coupon]);
  const percent = found.rows[0].percent;
  const total = (subtotal * (1 - percent / 100)).toFixed(2);
  res.json({ total }); // @at
  if (++served === 2) {
    server.close();
    await pool.end();
  }
});
const server = app.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

  test('the 0.00 total comes from the coupon row\'s percent, the request\'s coupon field and the price row', async (t) => {
    if (skip) return t.skip(skip);
    const source = shop();
    const dir = libraryWorkdir({ 'app.mjs': source }, 'retrace-why-');
    const server = await startServer(dir, 'app.mjs');
    const first = await request(server.port, 'POST', '/orders', { items: [{ sku: 'B2', qty: 1 }], coupon: 'TEN' });
    const second = await request(server.port, 'POST', '/orders', { items: [{ sku: 'A1', qty: 2 }], coupon: 'WELCOME' });
    assert.deepEqual([first.body, second.body], ['{"total":"6.30"}', '{"total":"0.00"}']);
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));

    const r = whyOffline(dir, ['--at', `app.mjs:${lineOf(source)}`, '--expr', 'total', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const answer = r.result!;
    assert.equal(answer.value, '"0.00"');
    assert.deepEqual([answer.hit, answer.hits], [2, 2]);
    const found = details(answer);
    const has = (re: RegExp) => assert.ok(found.some((d) => re.test(d)), `${re} in\n${renderTree(answer)}`);
    has(new RegExp(`^sql: PostgreSQL \`SELECT percent FROM ${coupons} WHERE code = \\$1\` \\['WELCOME'\\], row 0, column percent, event \\d+$`));
    has(/^http\.request: HTTP POST \/orders request body, JSON \$\.coupon, event \d+$/);
    has(new RegExp(`^sql: PostgreSQL \`SELECT price FROM ${products} WHERE sku = \\$1\` \\['A1'\\], row 0, column price, event \\d+$`));
    has(/^http\.request: HTTP POST \/orders request body, JSON \$\.items\[0\]\.qty, event \d+$/);
    // nothing of the first request (B2, TEN) is in the second's total
    assert.ok(!found.some((d) => /'TEN'|'B2'/.test(d)), renderTree(answer));

    const text = whyOffline(dir, ['--at', `app.mjs:${lineOf(source)}`, '--expr', 'total', '--hit', '1']);
    assert.equal(text.status, 0, text.stderr);
    // the line ran twice (one order each): the header counts both, also when the first is asked
    assert.match(text.stdout, /total = "6\.30" at app\.mjs:\d+:\d+ \(hit 1 of 2\)/);
    assert.match(text.stdout, /\['TEN'\], row 0, column percent/);
  });
});

describe('why: MySQL rows through mysql2', () => {
  test('a column value names the statement, the row and the column of the recorded reply', async (t) => {
    const skip = await skipUnlessServer('MariaDB', 3306);
    if (skip) return t.skip(skip);
    const source = `
import mysql from 'mysql2/promise';
const conn = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
await conn.query('CREATE TEMPORARY TABLE why_items (sku VARCHAR(10), price DECIMAL(10,2), qty INT)');
await conn.query("INSERT INTO why_items VALUES ('A1', 12.50, 3), ('B2', 7.00, 1)");
const [rows] = await conn.query('SELECT price, qty FROM why_items WHERE sku = ?', [process.env.SKU]);
const total = Number(rows[0].price) * rows[0].qty;
console.log(JSON.stringify({ total })); // @at
await conn.end();
`;
    const dir = libraryWorkdir({}, 'retrace-why-');
    const { printed } = recordProgram({ 'app.mjs': source }, { dir, env: { SKU: 'A1' } });
    assert.deepEqual(printed, { total: 37.5 });
    const r = whyOffline(dir, ['--at', `app.mjs:${lineOf(source)}`, '--expr', 'total', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const found = details(r.result!);
    for (const column of ['price', 'qty']) {
      assert.ok(
        found.some((d) => new RegExp(`^sql: MySQL \`SELECT price, qty FROM why_items WHERE sku = 'A1'\`, row 0, column ${column}, event \\d+$`).test(d)),
        renderTree(r.result!),
      );
    }
    assert.ok(found.some((d) => /^env: env SKU/.test(d)), renderTree(r.result!));
  });
});

describe('why: the AI-agent scenario (fetch and JSON.parse)', () => {
  const agent = `
const reply = await fetch(process.env.MODEL_URL, { method: 'POST', body: JSON.stringify({ prompt: 'book a table' }) });
const completion = await reply.json();
const call = completion.choices[0].message.tool_calls[0];
const argumentsText = call.function.arguments;
let parsed = null;
try {
  parsed = JSON.parse(argumentsText); // @at
} catch (err) {
  console.log(JSON.stringify({ failed: err.message.slice(0, 40) }));
}
`;

  test('the text that made JSON.parse throw ends at the bytes of the recorded HTTP response', async () => {
    const body = JSON.stringify({
      id: 'chatcmpl-1',
      choices: [{ message: { role: 'assistant', tool_calls: [{ function: { name: 'book', arguments: '{"time": "19:00", "people": 4' } }] } }],
    });
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const dir = workdir('retrace-why-');
    writeFiles(dir, { 'app.mjs': agent });
    let rec;
    try {
      rec = await recordAsync(dir, 'app.mjs', { MODEL_URL: `http://127.0.0.1:${port}/v1/chat` });
    } finally {
      server.close();
    }
    assert.equal(rec.status, 0, describeRun(rec));
    assert.match(rec.stdout, /"failed":"/);
    const r = whyOffline(dir, ['--at', `app.mjs:${lineOf(agent)}`, '--expr', 'argumentsText', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const answer = r.result!;
    assert.equal(answer.value, JSON.stringify('{"time": "19:00", "people": 4'));
    const found = details(answer);
    assert.ok(
      found.some((d) => /^http\.response: HTTP response \(200 OK\) to POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat, body, JSON \$\.choices\[0\]\.message\.tool_calls\[0\]\.function\.arguments, event \d+$/.test(d)),
      renderTree(answer),
    );
    // only the response: not the request the program sent, not the other members of the reply
    assert.ok(!found.some((d) => /\$\.id|\.name/.test(d)), renderTree(answer));
  });
});

describe('why: TypeScript run by Node.js', () => {
  test('a .ts program run with type stripping is asked about by its own lines', (t) => {
    const nodeMajor = Number(process.versions.node.split('.')[0]);
    if (nodeMajor < 23) return t.skip('Node.js 22 runs .ts only with --experimental-strip-types');
    const source = `interface Item { price: number; qty: number }
const items: Item[] = [{ price: Number(process.env.PRICE), qty: 2 }, { price: 1, qty: Number(process.env.QTY) }];
function lineTotal(item: Item): number {
  return item.price * item.qty;
}
const first: number = lineTotal(items[0]!);
console.log(JSON.stringify({ first })); // @at
`;
    const { dir } = recordProgram({ 'app.ts': source }, { env: { PRICE: '6', QTY: '9' }, command: ['node', 'app.ts'] });
    const r = whyOffline(dir, ['--at', `app.ts:${lineOf(source)}`, '--expr', 'first', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const answer = r.result!;
    assert.equal(answer.value, '12');
    const found = details(answer);
    assert.ok(found.some((d) => d === 'env: env PRICE, event 0' || /^env: env PRICE/.test(d)), renderTree(answer));
    assert.ok(!found.some((d) => /QTY/.test(d)), renderTree(answer));
    assert.ok([...nodes(answer.lineage)].some((n) => n.op === '*' && n.at === 'app.ts:4:10'), renderTree(answer));
  });
});

describe('why: memory cap', () => {
  test('past the cap the answer is summarized per location and says so', () => {
    const source = `let acc = Number(process.env.SEED);
for (let i = 0; i < 200000; i++) acc = (acc * 31 + i) % 1000003;
console.log(JSON.stringify({ acc })); // @at
`;
    const { dir } = recordProgram({ 'app.mjs': source }, { env: { SEED: '11' } });
    const r = whyOffline(dir, ['--at', `app.mjs:${lineOf(source)}`, '--expr', 'acc', '--json', '--max-nodes', '5000']);
    assert.equal(r.status, 0, r.stderr);
    const answer = r.result!;
    assert.equal(answer.complete, false);
    assert.match(answer.notes.join('\n'), /memory cap \(5000 nodes\) was reached/);
    assert.ok(details(answer).some((d) => /^env: env SEED/.test(d)), renderTree(answer));
    assert.ok(((answer as unknown as { stats: { nodes: number } }).stats.nodes) < 6000);
  });
});
