// Servers recorded under sustained load from a separate, unrecorded load generator (autocannon), then
// replayed offline. Short bursts (test/http-frameworks.test.ts) finish inside one tick of the
// clients' own timers; a load that lasts seconds makes those timers fire, re-arm and fire again
// while requests are in flight, which is what the benchmarks found broken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { TraceFile } from '../src/core/trace/reader.js';
import { describeRun, replay, repoRoot, retrace } from './helpers.js';
import { libraryWorkdir, request, startServer } from './network-helpers.js';

const autocannonCli = path.join(path.dirname(createRequire(path.join(repoRoot, 'package.json')).resolve('autocannon/package.json')), 'autocannon.js');

/** The setTimeout fired most often in the recording, and how often (a timeout refreshed after it fired fires again). */
function mostFiredTimeout(tracePath: string): { timer: number; firings: number } {
  const timeouts = new Set<number>();
  const firings = new Map<number, number>();
  for (const ev of TraceFile.open(tracePath).events()) {
    if (ev.kind === 'request' && ev.channel.name === 'timers.setTimeout') timeouts.add(ev.reqId);
    else if (ev.kind === 'deliver' && timeouts.has(ev.reqId)) firings.set(ev.reqId, (firings.get(ev.reqId) ?? 0) + 1);
  }
  let most = { timer: -1, firings: 0 };
  for (const [timer, n] of firings) if (n > most.firings) most = { timer, firings: n };
  return most;
}

/** Runs autocannon as its own process against url; resolves with its JSON summary. */
function autocannon(url: string, args: string[]): Promise<{ requests: { total: number }; non2xx: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [autocannonCli, '--json', ...args, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}: ${stderr}`));
      resolve(JSON.parse(stdout));
    });
  });
}

// Every request calls the upstream with the global fetch (undici inside Node). undici keeps its
// request timeouts on one 499 ms setTimeout that it refresh()es after each firing while requests
// are in flight: over a few seconds of load that one timer fires many times.
const FASTIFY_FETCH_SERVER = `
import Fastify from 'fastify';
const upstream = \`http://127.0.0.1:\${process.env.UPSTREAM_PORT}\`;
let next = 0;
const app = Fastify();
app.get('/quote', async () => {
  const n = next++;
  const res = await fetch(\`\${upstream}/price?n=\${n}\`);
  const { price } = await res.json();
  const total = Math.round(price * 1.2 * 100) / 100;
  console.log('quote', n, price, total);
  return { n, price, total };
});
app.post('/shutdown', async () => {
  setImmediate(() => app.close().then(() => console.log('stopped after', next)));
  return { bye: true };
});
await app.listen({ port: 0, host: '127.0.0.1' });
console.log('listening', app.server.address().port);
`;

test('Fastify calling an upstream with fetch under seconds of autocannon load replays offline, twice alike', async () => {
  // The upstream runs in the test process: not recorded, and unreachable when the replay runs.
  const upstream = http.createServer((req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://upstream').searchParams.get('n'));
    const body = JSON.stringify({ n, price: ((n * 37) % 1000) / 10 + 0.5 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  try {
    const dir = libraryWorkdir({ 'server.mjs': FASTIFY_FETCH_SERVER });
    const server = await startServer(dir, 'server.mjs', { env: { UPSTREAM_PORT: String((upstream.address() as AddressInfo).port) } });
    // 2 s at a capped rate: long enough for undici's 499 ms timer to fire and re-arm a few times,
    // few enough requests (~300) for two replays to stay quick on a busy machine.
    let load: Awaited<ReturnType<typeof autocannon>>;
    try {
      load = await autocannon(`http://127.0.0.1:${server.port}/quote`, ['-c', '16', '-d', '2', '-R', '150']);
    } finally {
      // Stopped even when the load fails, so no recorded server outlives the test.
      assert.equal((await request(server.port, 'POST', '/shutdown')).status, 200);
    }
    // The request count depends on the machine; the timer check below says whether the load lasted.
    assert.ok(load.requests.total > 0, 'autocannon made no request');
    assert.equal(load.non2xx, 0, JSON.stringify(load));
    assert.equal(load.errors, 0, JSON.stringify(load));
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));
    assert.match(rec.stdout, /^stopped after \d+$/m);
    const quotes = rec.stdout.match(/^quote /gm)?.length ?? 0;
    assert.ok(quotes >= load.requests.total, `${quotes} quotes printed for ${load.requests.total} requests`);
    // What this test is about: one timeout fired, was refreshed and fired again.
    const most = mostFiredTimeout(path.join(dir, 'recording', 'p0.rtrc'));
    assert.ok(most.firings >= 2, `no timeout fired more than ${most.firings} times: the load did not exercise undici's re-armed timer`);
    // retrace show lists every firing of it, not just the first (what one reads to diagnose this).
    const shown = retrace(dir, ['show', '--json', 'recording']);
    assert.equal(shown.status, 0, describeRun(shown));
    const shownFirings = shown.stdout.split('\n').filter((line) => {
      const entry = line ? (JSON.parse(line) as { fields?: { timer?: number; setAt?: number } }) : null;
      return entry?.fields?.timer === most.timer && entry.fields.setAt !== undefined;
    });
    assert.equal(shownFirings.length, most.firings, shownFirings.join('\n'));
    for (let i = 0; i < 2; i++) {
      const rep = replay(dir, [], { offline: true, timeout: 60_000 });
      assert.doesNotMatch(rep.stderr, /retrace: replay (diverged|stalled)|recording ends here/, `replay ${i + 1}\n${describeRun(rep)}`);
      assert.equal(rep.status, rec.status, `replay ${i + 1}\n${describeRun(rep)}`);
      assert.equal(rep.stdout, rec.stdout, `replay ${i + 1}\n${describeRun(rep)}`);
    }
  } finally {
    upstream.close();
  }
});
