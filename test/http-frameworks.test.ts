// Servers built on the frameworks users run (Express 5, Fastify 5, Koa 3) and clients they call
// other services with (global fetch, the undici package, axios), recorded under a burst of
// concurrent requests from the test process (not recorded) and replayed offline: the replay handles
// every request again, in the recorded order, with nobody connecting and no upstream or database
// reachable, and prints what the recording printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertReplaysFaithfully, describeRun, type Run } from './helpers.js';
import { burst, libraryWorkdir, request, skipUnlessServer, startServer, uniqueName } from './network-helpers.js';

const EXPRESS_PG_SERVER = `
import express from 'express';
import pg from 'pg';
const table = process.env.TABLE;
const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 4 });
await pool.query(\`CREATE TABLE \${table} (id serial PRIMARY KEY, item text NOT NULL, price numeric(10,2) NOT NULL, qty int NOT NULL)\`);

const app = express();
app.use(express.json());
app.post('/orders', async (req, res) => {
  const { item, qty } = req.body;
  const { rows: [order] } = await pool.query(
    \`INSERT INTO \${table} (item, price, qty) VALUES ($1, round((random() * 100)::numeric, 2), $2) RETURNING id, price\`,
    [item, qty]);
  const total = (Number(order.price) * qty).toFixed(2);
  console.log('order', order.id, item, qty, order.price, total);
  res.status(201).json({ id: order.id, total, at: Date.now() });
});
app.get('/orders/:id', async (req, res) => {
  const { rows } = await pool.query(\`SELECT id, item, price, qty FROM \${table} WHERE id = $1\`, [Number(req.params.id)]);
  if (rows.length === 0) return res.status(404).json({ error: 'no such order' });
  console.log('read', rows[0].id, rows[0].item);
  res.json(rows[0]);
});
app.post('/shutdown', async (req, res) => {
  res.json({ bye: true });
  server.close();
  await pool.query(\`DROP TABLE \${table}\`);
  await pool.end();
  console.log('stopped');
});
const server = app.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

const FASTIFY_CLIENTS_SERVER = `
import Fastify from 'fastify';
import axios from 'axios';
import { request as undiciRequest } from 'undici';
const upstream = \`http://127.0.0.1:\${process.env.UPSTREAM_PORT}\`;
const app = Fastify();
app.get('/fetch/:n', async (req) => {
  const res = await fetch(\`\${upstream}/price?n=\${req.params.n}\`);
  const body = await res.json();
  console.log('fetch', req.params.n, res.status, body.price);
  return { via: 'fetch', n: Number(req.params.n), price: body.price };
});
app.get('/axios/:n', async (req) => {
  const res = await axios.get(\`\${upstream}/price\`, { params: { n: req.params.n } });
  console.log('axios', req.params.n, res.status, res.data.price);
  return { via: 'axios', n: Number(req.params.n), price: res.data.price };
});
app.get('/undici/:n', async (req) => {
  const res = await undiciRequest(\`\${upstream}/price?n=\${req.params.n}\`);
  const body = await res.body.json();
  console.log('undici', req.params.n, res.statusCode, body.price);
  return { via: 'undici', n: Number(req.params.n), price: body.price };
});
app.post('/shutdown', async () => {
  setImmediate(() => app.close().then(() => console.log('stopped')));
  return { bye: true };
});
await app.listen({ port: 0, host: '127.0.0.1' });
console.log('listening', app.server.address().port);
`;

const KOA_SERVER = `
import Koa from 'koa';
import { createHash } from 'node:crypto';
const app = new Koa();
let served = 0;
app.use(async (ctx) => {
  if (ctx.path === '/shutdown') {
    ctx.body = 'bye';
    setImmediate(() => server.close(() => console.log('stopped after', served)));
    return;
  }
  // The raw body, as the chunks arrived.
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  served++;
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 12);
  console.log(ctx.method, ctx.path, chunks.length > 0 ? 'bytes ' + body.length : 'no body', digest);
  ctx.body = { digest, lucky: Math.floor(Math.random() * 1000), served };
});
const server = app.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

/** Replays the recorded server offline three times; each must print exactly what the recording printed. */
function assertReplays(dir: string, rec: Run): void {
  assert.equal(rec.status, 0, describeRun(rec));
  assertReplaysFaithfully(dir, rec, { times: 3 });
}

test('Express 5 + PostgreSQL under a burst of concurrent requests replays every request in order', async (t) => {
  const why = await skipUnlessServer('PostgreSQL', 5432);
  if (why) return t.skip(why);
  const dir = libraryWorkdir({ 'server.mjs': EXPRESS_PG_SERVER });
  const server = await startServer(dir, 'server.mjs', { env: { TABLE: uniqueName('retrace_express') } });
  const created = await burst(server.port, 40, (i) => ['POST', '/orders', { item: `item-${i}`, qty: 1 + (i % 5) }]);
  assert.ok(created.every((r) => r.status === 201), JSON.stringify(created));
  const ids = created.map((r) => (JSON.parse(r.body) as { id: number }).id);
  const read = await burst(server.port, 20, (i) => ['GET', `/orders/${ids[i]}`]);
  assert.ok(read.every((r) => r.status === 200));
  assert.equal((await request(server.port, 'GET', '/orders/999999')).status, 404);
  await request(server.port, 'POST', '/shutdown');
  const rec = await server.done;
  assert.match(rec.stdout, /stopped/);
  assertReplays(dir, rec);
});

test('Fastify 5 calling an upstream with fetch, axios and the undici package replays with the upstream gone', async () => {
  // The upstream runs in the test process: not recorded, and gone when the replay runs.
  const upstream = http.createServer((req, res) => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ price: Math.round(Math.random() * 10000) / 100, url: req.url }));
    }, Math.random() * 20);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  try {
    const dir = libraryWorkdir({ 'server.mjs': FASTIFY_CLIENTS_SERVER });
    const server = await startServer(dir, 'server.mjs', { env: { UPSTREAM_PORT: String(upstreamPort) } });
    const clients = ['fetch', 'axios', 'undici'];
    const replies = await burst(server.port, 30, (i) => ['GET', `/${clients[i % 3]}/${i}`]);
    assert.ok(replies.every((r) => r.status === 200), JSON.stringify(replies));
    await request(server.port, 'POST', '/shutdown');
    const rec = await server.done;
    assert.match(rec.stdout, /stopped/);
    assertReplays(dir, rec);
  } finally {
    upstream.close();
  }
});

test('Koa 3 reading request bodies sent in chunks replays the same chunks and responses', async () => {
  const dir = libraryWorkdir({ 'server.mjs': KOA_SERVER });
  const server = await startServer(dir, 'server.mjs');
  // Bodies written in several chunks with pauses, so they arrive as several reads.
  const sendChunked = (i: number) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, method: 'POST', path: `/upload/${i}` }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      let n = 0;
      const tick = () => {
        if (n++ === 3) return req.end();
        req.write(`chunk ${n} of request ${i}: ${'x'.repeat(Math.floor(Math.random() * 2000))}\n`);
        setTimeout(tick, Math.random() * 15);
      };
      tick();
    });
  const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => sendChunked(i)));
  assert.ok(statuses.every((s) => s === 200));
  await request(server.port, 'GET', '/shutdown');
  const rec = await server.done;
  assert.match(rec.stdout, /stopped after 12/);
  assertReplays(dir, rec);
});
