// The net boundary end to end through the real CLI: TCP servers and clients recorded with real
// sockets on 127.0.0.1 and replayed offline (`unshare -n`) with no socket at all. Each program
// prints what it saw (random payloads, ephemeral ports, chunk sizes); a pair of unrecorded runs shows
// that the output really varies, so the replay checks can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { offlineCommand, describeRun, record, runPlain, workdir, writeFiles } from './helpers.js';
import { assertDiverges, assertNoRealSockets, assertReplays, start } from './socket-helpers.js';

const RESOURCES = `const resources = () => console.error('resources: ' + process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap').join(','));`;

const ECHO = `
import net from 'node:net';
${RESOURCES}
// A server and a client in one program: random payloads, a half-close, an idle timeout that fires.
const server = net.createServer({ allowHalfOpen: true }, (s) => {
  console.log('server: connection', s.remoteAddress, s.remotePort === client.localPort, s.localPort === port);
  s.setNoDelay(true).setKeepAlive(true, 500);
  s.on('data', (d) => {
    const reply = 'echo ' + d + ' ' + Math.random().toString(36).slice(2, 8);
    s.write(reply);
  });
  s.on('end', () => {
    console.log('server: client ended its side; replying and closing');
    s.end('goodbye');
  });
  s.on('close', (hadError) => {
    console.log('server: close', hadError, s.bytesRead, s.bytesWritten);
    idle();
  });
});
let client, port;
server.listen(0, '127.0.0.1', () => {
  port = server.address().port;
  console.log('listening on a port', typeof port, server.address().address, server.address().family);
  client = net.connect({ port, host: '127.0.0.1' }, () => {
    console.log('client: connected', client.remotePort === port, client.remoteAddress, client.remoteFamily, client.address().address);
    resources();
    client.write(Math.random().toString(36).slice(2));
  });
  let n = 0;
  client.setEncoding('utf8');
  client.on('data', (d) => {
    console.log('client: got', d.length, JSON.stringify(d).slice(0, 60));
    if (++n === 2) client.end();
    else if (n === 1) client.write('second ' + Math.random());
  });
  client.on('end', () => console.log('client: end'));
  client.on('close', () => console.log('client: close', client.bytesRead, client.bytesWritten, client.destroyed));
});

// An idle connection whose timeout fires, then the server closes.
function idle() {
  const quiet = net.createServer((s) => s.on('error', () => {}));
  quiet.listen(0, '127.0.0.1', () => {
    const c = net.connect(quiet.address().port, '127.0.0.1');
    const started = Date.now();
    c.setTimeout(80, () => {
      console.log('idle timeout fired', Date.now() - started >= 80);
      c.destroy();
      quiet.close(() => server.close(() => console.log('servers closed')));
    });
    c.on('close', () => console.log('idle socket closed', c.destroyed));
  });
}
`;

test('a TCP echo server and client in one program replay offline, with no socket opened', () => {
  const files = { 'app.mjs': ECHO };
  const dir = workdir('retrace-net-');
  writeFiles(dir, files);
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /idle timeout fired true/);
  assert.match(rec.stdout, /servers closed/);
  const rep = assertReplays(dir, rec, 2);
  assertNoRealSockets(rec, rep);

  // Unrecorded, the payloads differ from run to run.
  const a = runPlain(dir, ['app.mjs']);
  const b = runPlain(dir, ['app.mjs']);
  assert.equal(a.status, 0, describeRun(a));
  assert.notEqual(a.stdout, b.stdout);

  // A program that now replies differently diverges at that write, naming the line.
  const changed = ECHO.replace("'echo ' + d", "'ECHO ' + d");
  fs.writeFileSync(path.join(dir, 'app.mjs'), changed);
  const line = changed.split('\n').findIndex((l) => l.includes('s.write(reply)')) + 1;
  assertDiverges(dir, new RegExp(`socket \\d+ \\(accepted from 127\\.0\\.0\\.1:\\d+\\) wrote different bytes than recorded[^]*first difference at byte 0[^]*at app\\.mjs:${line}:`));
});

const CLIENT = `
import net from 'node:net';
${RESOURCES}
// A client of a server that only the recording had: the reply arrives in several chunks.
const socket = net.connect(Number(process.env.PORT), '127.0.0.1');
socket.on('connect', () => {
  console.log('connected to', socket.remotePort === Number(process.env.PORT), 'from local port', typeof socket.localPort);
  resources();
  socket.write('hello ' + process.pid);
});
socket.on('data', (chunk) => console.log('chunk of', chunk.length, 'bytes:', String(chunk).slice(0, 24)));
socket.on('end', () => console.log('server ended'));
socket.on('close', (hadError) => console.log('closed', hadError, socket.bytesRead));
`;

test('a client of a server that is gone at replay gets the recorded bytes in the recorded chunks', async () => {
  // The server is the test process: not recorded, and closed before the replay.
  const chunks: number[] = [];
  const server = net.createServer((s) => {
    s.once('data', () => {
      let i = 0;
      const send = () => {
        if (i === 5) return s.end();
        const size = 1 + Math.floor(Math.random() * 3000);
        chunks.push(size);
        s.write(`${i++}:${'x'.repeat(size)}`, () => setTimeout(send, 15));
      };
      send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const dir = workdir('retrace-net-client-');
  writeFiles(dir, { 'app.mjs': CLIENT });
  const running = start(dir, 'app.mjs', { env: { PORT: String(port) }, waitFor: /^closed/m });
  const rec = await running.done;
  server.close();
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /server ended/);
  const sizes = [...rec.stdout.matchAll(/chunk of (\d+) bytes/g)].map((m) => Number(m[1]));
  assert.ok(sizes.length >= 2, `several chunks: ${sizes}`);
  const rep = assertReplays(dir, rec, 2);
  assertNoRealSockets(rec, rep);
});

const FAILURES = `
import net from 'node:net';
// A refused connection, a server that accepts and never answers (a timeout), and a connect
// timeout given as an option: errors and timeouts come from the recording.
const refused = net.connect(Number(process.env.CLOSED_PORT), '127.0.0.1');
refused.on('error', (err) => console.log('refused:', err.code, err.syscall, err.address, err.port === Number(process.env.CLOSED_PORT), err.message.replace(/\\d+$/, 'N')));
refused.on('close', (hadError) => {
  console.log('refused socket closed', hadError);
  const silent = net.connect({ port: Number(process.env.SILENT_PORT), host: '127.0.0.1', timeout: 60 });
  const t0 = Date.now();
  silent.on('timeout', () => {
    console.log('silent server: timeout after at least 60 ms', Date.now() - t0 >= 60);
    silent.destroy(new Error('gave up'));
  });
  silent.on('error', (err) => console.log('silent error:', err.message));
  silent.on('close', (hadError) => console.log('silent closed', hadError));
});
`;

test('ECONNREFUSED and socket timeouts replay without the servers', async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const silent = net.createServer((s) => s.on('error', () => {}));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const dir = workdir('retrace-net-fail-');
  writeFiles(dir, { 'app.mjs': FAILURES });
  const running = start(dir, 'app.mjs', { env: { CLOSED_PORT: String(closedPort), SILENT_PORT: String(silentPort) }, waitFor: /^silent closed/m });
  const rec = await running.done;
  silent.close();
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /refused: ECONNREFUSED connect 127\.0\.0\.1 true/);
  assert.match(rec.stdout, /silent server: timeout after at least 60 ms true/);
  assert.match(rec.stdout, /silent error: gave up\nsilent closed true/);
  assertReplays(dir, rec, 2);
});

test('a plain run inside the offline namespace can still bind 127.0.0.1, so replays are checked for sockets instead', () => {
  // Why assertNoRealSockets exists: `unshare -n` lets a program listen, so an offline replay that
  // opened a real server would not fail by itself.
  const dir = workdir('retrace-net-ns-');
  writeFiles(dir, { 'app.cjs': `require('net').createServer().listen(0, '127.0.0.1', function () { console.log('bound'); this.close(); });` });
  const [command, ...rest] = offlineCommand([process.execPath, 'app.cjs']);
  const r = spawnSync(command!, rest, { cwd: dir, encoding: 'utf8' });
  assert.equal(r.stdout.trim(), 'bound', r.stderr);
});
