// The channel catalog (src/boundary/catalog.ts) names every channel a recording can hold: a program
// that crosses every boundary is recorded, and each channel in its trace must belong to a family,
// or `show` would file its events under "other" and `why` would give its values no origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHANNEL_FAMILIES, familyOf, SOCKET_DELIVERY } from '../src/boundary/catalog.js';
import { K } from '../src/boundary/net.js';
import { TraceFile } from '../src/core/trace/reader.js';
import { describeRun, record, workdir, writeFiles } from './helpers.js';

const EVERY_BOUNDARY = `
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as net from 'node:net';
import * as dns from 'node:dns';
import * as dgram from 'node:dgram';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID, pbkdf2 } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
const out = [Date.now() > 0, performance.now() > 0, process.hrtime.bigint() > 0n, Math.random() < 1, randomUUID().length, randomBytes(4).length];
out.push(crypto.getRandomValues(new Uint8Array(2)).length, await crypto.subtle.digest('SHA-256', new Uint8Array(1)).then((d) => d.byteLength));
out.push(await new Promise((r) => pbkdf2('a', 'b', 1, 8, 'sha256', (e, k) => r(k.length))));
fs.writeFileSync('f.txt', 'x'); out.push(fs.readFileSync('f.txt', 'utf8'), await fs.promises.readFile('f.txt', 'utf8'));
out.push(os.hostname().length > 0, os.cpus().length > 0, process.env.HOME !== undefined);
out.push(execFileSync('echo', ['hi']).toString().trim(), spawnSync('true').status);
out.push(await dns.promises.lookup('localhost').then((a) => typeof a.address));
await sleep(1); setImmediate(() => {}); const t = setInterval(() => {}, 1000); clearInterval(t);
await new Promise((resolve) => {
  const server = net.createServer((s) => s.end('pong')).listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1', () => c.write('ping'));
    c.on('data', (d) => out.push(String(d)));
    c.on('close', () => { server.close(); resolve(); });
  });
});
await new Promise((resolve) => {
  const u = dgram.createSocket('udp4');
  u.bind(0, '127.0.0.1', () => u.send('x', u.address().port, '127.0.0.1', () => u.close(resolve)));
});
const { port1, port2 } = new MessageChannel(); port2.on('message', () => port2.close()); port1.postMessage(1);
process.stdin.on('data', (d) => out.push(String(d).trim())).on('end', () => console.log(JSON.stringify(out)));
`;

test('every channel of a recording that crosses every boundary belongs to a catalog family', () => {
  const dir = workdir('retrace-catalog-');
  writeFiles(dir, { 'app.mjs': EVERY_BOUNDARY });
  const rec = record(dir, ['node', 'app.mjs'], { input: 'from stdin' });
  assert.equal(rec.status, 0, describeRun(rec));
  const trace = TraceFile.open(path.join(dir, 'recording', fs.readdirSync(path.join(dir, 'recording')).find((f) => f.endsWith('.rtrc'))!));
  const names = new Set<string>();
  for (const ev of trace.events()) if (ev.kind !== 'deliver') names.add(ev.channel.name);
  assert.ok(names.size > 25, `the program crossed many channels: ${[...names].join(', ')}`);
  const unnamed = [...names].filter((n) => familyOf(n) === null);
  assert.deepEqual(unnamed, [], 'channels no catalog family names');
  // every kind of boundary the program crossed shows under its own kind, not "other"
  for (const prefix of ['time.', 'fs.', 'os.', 'dns.', 'net.', 'child_process.', 'timers.', 'stdin.', 'dgram.']) {
    const some = [...names].find((n) => n.startsWith(prefix));
    assert.ok(some, `the recording holds a ${prefix} channel`);
    assert.notEqual(familyOf(some!)!.timeline, 'other', `${some} has a timeline kind of its own`);
  }
});

test('the catalog is consistent: families in order of specificity, one socket payload layout', () => {
  assert.equal(K, SOCKET_DELIVERY, 'net.ts writes the layout the decoders read');
  for (const [i, f] of CHANNEL_FAMILIES.entries()) {
    // A prefix family listed before a more specific one would hide it.
    for (const later of CHANNEL_FAMILIES.slice(i + 1)) {
      if (!f.exact) assert.ok(!later.match.startsWith(f.match), `${f.match} hides ${later.match}`);
    }
  }
});
