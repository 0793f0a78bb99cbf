// HTTP and TLS over the socket layer, end to end through the real CLI: an HTTP server recorded
// under a burst of keep-alive and pipelined requests from a separate, unrecorded client process;
// outbound http.get, keep-alive agents and fetch against a server run by the test (gone at replay),
// with an abort and a timeout; HTTPS and a STARTTLS upgrade with a certificate made at test time and
// removed before the replay; HTTP/2, which replay refuses with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { describeRun, record, replay, runPlain, workdir, writeFiles } from './helpers.js';
import { assertDiverges, assertNoRealSockets, assertReplays, hide, runNode, selfSignedCert, start } from './socket-helpers.js';

const RESOURCES = `const resources = () => console.error('resources: ' + process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap').join(','));`;

const SERVER = `
import http from 'node:http';
${RESOURCES}
let served = 0;
let connections = 0;
const ids = new WeakMap();
const server = http.createServer({ keepAliveTimeout: 2000 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    served++;
    const body = Buffer.concat(chunks);
    if (req.url === '/exit') {
      res.end('bye');
      server.close(() => console.log('closed after', served, 'requests on', connections, 'connections'));
      server.closeIdleConnections();
      return;
    }
    if (served === 20) resources();
    const lucky = Math.floor(Math.random() * 1000);
    console.log(req.method, req.url, 'body', body.length, 'in', chunks.length, 'chunks, lucky', lucky, 'connection', ids.get(req.socket));
    res.setHeader('x-served-at', Date.now());
    res.end(JSON.stringify({ url: req.url, lucky, length: body.length }));
  });
});
server.on('connection', (socket) => ids.set(socket, ++connections));
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

// The load generator: a separate process, not recorded. 45 requests over 4 keep-alive connections
// (every third a POST whose body comes in two writes), and 4 requests pipelined on one raw
// connection, one with a chunked body split across writes; then /exit.
const CLIENT = `
const http = require('http');
const net = require('net');
const port = Number(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const request = (i) => new Promise((resolve, reject) => {
  const post = i % 3 === 0;
  const req = http.request({ host: '127.0.0.1', port, agent, method: post ? 'POST' : 'GET', path: '/r' + i }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve(body));
  });
  req.on('error', reject);
  if (!post) return req.end();
  req.write('a'.repeat(i * 10));
  setTimeout(() => req.end('tail' + i), Math.random() * 10);
});
const pipelined = () => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => {
    s.write('GET /p1 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /p2 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nPOST /p3 HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n3\\r\\nabc\\r\\n');
    setTimeout(() => s.write('2\\r\\nde\\r\\n0\\r\\n\\r\\nGET /p4 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'), 20);
  });
  let got = '';
  s.on('data', (d) => (got += d));
  s.on('end', () => resolve(got));
});
(async () => {
  const results = await Promise.all([...Array.from({ length: 45 }, (_, i) => request(i)), pipelined()]);
  const responses = results.pop().split('HTTP/1.1 200 OK').length - 1;
  await new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/exit' }, (res) => res.resume().on('end', resolve)));
  agent.destroy();
  console.log(JSON.stringify({ replies: results.length, pipelinedResponses: responses, bodies: results }));
})();
`;

test('an HTTP server under a burst of keep-alive and pipelined requests replays every request, in order, offline', async () => {
  const dir = workdir('retrace-http-server-');
  writeFiles(dir, { 'server.mjs': SERVER, 'client.cjs': CLIENT });
  const running = start(dir, 'server.mjs');
  const port = await running.ready;
  const client = await runNode(dir, ['client.cjs', port]);
  const rec = await running.done;
  assert.equal(client.status, 0, describeRun(client));
  const load = JSON.parse(client.stdout) as { replies: number; pipelinedResponses: number; bodies: string[] };
  assert.equal(load.replies, 45);
  assert.equal(load.pipelinedResponses, 4);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /closed after 50 requests on 6 connections/);
  assert.match(rec.stdout, /POST \/p3 body 5 in 2 chunks/);
  // What the server printed, request by request, is what the client received.
  for (const body of load.bodies) {
    const { url, lucky } = JSON.parse(body) as { url: string; lucky: number };
    assert.match(rec.stdout, new RegExp(`^\\w+ ${url} .*lucky ${lucky} `, 'm'));
  }
  const rep = assertReplays(dir, rec, 2);
  assertNoRealSockets(rec, rep);

  // A program that answers differently (here: the lucky number) diverges at that response.
  const changed = SERVER.replace('{ url: req.url, lucky, length', '{ url: req.url, lucky: lucky + 1, length');
  fs.writeFileSync(path.join(dir, 'server.mjs'), changed);
  const line = changed.split('\n').findIndex((l) => l.includes('res.end(JSON.stringify')) + 1;
  assertDiverges(dir, new RegExp(`wrote different bytes than recorded[^]*lucky[^]*at server\\.mjs:${line}:`));
});

test('the unrecorded server really varies: two plain runs answer differently', async () => {
  const replies: string[] = [];
  for (let i = 0; i < 2; i++) {
    const dir = workdir('retrace-http-plain-');
    writeFiles(dir, { 'server.mjs': SERVER, 'client.cjs': CLIENT });
    const running = start(dir, 'server.mjs', { plain: true });
    const port = await running.ready;
    const client = await runNode(dir, ['client.cjs', port]);
    await running.done;
    replies.push(client.stdout);
  }
  assert.notEqual(replies[0], replies[1]);
});

const CALLER = `
import http from 'node:http';
${RESOURCES}
const base = 'http://127.0.0.1:' + process.env.PORT;
const get = (path, options = {}) => new Promise((resolve, reject) => {
  const req = http.get(base + path, options, (res) => {
    if (path === '/ka1') resources();
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve(res.statusCode + ' ' + body));
  });
  req.on('error', reject);
});
console.log('no agent:', await get('/plain', { agent: false }));
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
console.log('keep-alive:', (await Promise.all([1, 2, 3, 4, 5].map((i) => get('/ka' + i, { agent })))).join(' | '));
agent.destroy();
const posted = await fetch(base + '/fetch', { method: 'POST', body: 'payload ' + Math.random() });
console.log('fetch POST:', posted.status, posted.headers.get('content-type'), await posted.text());
const json = await (await fetch(base + '/json')).json();
console.log('fetch JSON:', json.url, typeof json.n);
try {
  await fetch(base + '/slow', { signal: AbortSignal.timeout(50) });
} catch (err) {
  console.log('fetch aborted:', err.name);
}
const controller = new AbortController();
const aborted = http.get(base + '/slow', { signal: controller.signal });
aborted.on('error', (err) => console.log('http.get aborted:', err.name, err.code));
setTimeout(() => controller.abort(), 20);
await new Promise((resolve) => aborted.on('close', resolve));
const timed = http.get(base + '/slow');
timed.setTimeout(40, () => {
  console.log('http.get timed out');
  timed.destroy(new Error('too slow'));
});
timed.on('error', (err) => console.log('timed out request failed:', err.message));
await new Promise((resolve) => timed.on('close', resolve));
console.log('done');
`;

test('outbound http.get, keep-alive agents and fetch replay with the server gone, aborts and timeouts included', async () => {
  // The upstream is the test process: unrecorded, and closed before the replay.
  const upstream = http.createServer((req, res) => {
    if (req.url === '/slow') {
      const timer = setTimeout(() => res.end('late'), 3000);
      req.on('close', () => clearTimeout(timer));
      return;
    }
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      setTimeout(() => res.end(JSON.stringify({ url: req.url, n: Math.random(), body })), Math.random() * 10);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const dir = workdir('retrace-http-client-');
  writeFiles(dir, { 'app.mjs': CALLER });
  const running = start(dir, 'app.mjs', { env: { PORT: String(port) }, waitFor: /^done$/m });
  const rec = await running.done;
  upstream.closeAllConnections();
  upstream.close();
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /keep-alive: 200 \{"url":"\/ka1"/);
  assert.match(rec.stdout, /fetch POST: 200 application\/json \{"url":"\/fetch","n":[\d.]+,"body":"payload /);
  assert.match(rec.stdout, /fetch aborted: TimeoutError/);
  assert.match(rec.stdout, /http.get aborted: AbortError ABORT_ERR/);
  assert.match(rec.stdout, /http.get timed out\ntimed out request failed: too slow/);
  const rep = assertReplays(dir, rec, 2);
  assertNoRealSockets(rec, rep);
});

const HTTPS = `
import https from 'node:https';
import tls from 'node:tls';
import fs from 'node:fs';
${RESOURCES}
const key = fs.readFileSync('key.pem');
const cert = fs.readFileSync('cert.pem');
const server = https.createServer({ key, cert }, (req, res) => {
  res.end(JSON.stringify({ url: req.url, secret: Math.random(), protocol: req.socket.getProtocol(), encrypted: req.socket.encrypted }));
});
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const get = (path, agent) => new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path, ca: cert, servername: 'localhost', agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  console.log('https:', await get('/one'));
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert });
  console.log('keep-alive:', (await Promise.all([get('/a', agent), get('/b', agent)])).join(' | '));
  resources();
  agent.destroy();
  // fetch over TLS (the certificate comes from NODE_EXTRA_CA_CERTS), to a name that is looked up.
  const fetched = await fetch('https://localhost:' + port + '/fetched');
  console.log('fetch:', fetched.status, await fetched.text());
  // Trusting another certificate only: the server's is rejected, as it was when recorded.
  const rejected = https.get({ host: '127.0.0.1', port, path: '/untrusted', ca: fs.readFileSync('other/cert.pem') });
  rejected.on('error', (err) => console.log('untrusted:', err.code));
  await new Promise((resolve) => rejected.on('close', resolve));
  // A name the certificate does not have: the program's checkServerIdentity decides.
  const wrongName = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'example.org' });
  wrongName.on('error', (err) => console.log('wrong name:', err.code));
  await new Promise((resolve) => wrongName.on('close', resolve));
  const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => {
    const peer = socket.getPeerCertificate(true);
    console.log('tls:', socket.authorized, socket.getProtocol(), socket.alpnProtocol, peer.subject.CN, peer.subjectaltname, peer.issuerCertificate === peer, typeof socket.getCipher().name, socket.getPeerX509Certificate().subject);
    socket.end('GET /raw HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n');
  });
  let raw = '';
  socket.on('data', (d) => (raw += d));
  socket.on('close', () => {
    console.log('raw response:', raw.split('\\r\\n')[0], raw.slice(raw.indexOf('\\r\\n\\r\\n') + 4));
    server.close(() => console.log('closed'));
  });
});
`;

test('an HTTPS server and its clients replay offline without the certificate files', () => {
  const dir = workdir('retrace-https-');
  writeFiles(dir, { 'app.mjs': HTTPS });
  selfSignedCert(dir);
  fs.mkdirSync(path.join(dir, 'other'));
  selfSignedCert(path.join(dir, 'other'));
  const env = { NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem') };
  const rec = record(dir, ['node', 'app.mjs'], { env });
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /fetch: 200 \{"url":"\/fetched"/);
  assert.match(rec.stdout, /untrusted: DEPTH_ZERO_SELF_SIGNED_CERT/);
  assert.match(rec.stdout, /wrong name: ERR_TLS_CERT_ALTNAME_INVALID/);
  assert.match(rec.stdout, /tls: true TLSv1\.\d http\/1\.1 localhost DNS:localhost, IP Address:127\.0\.0\.1 true string CN=localhost/);
  hide(dir, ['key.pem', 'cert.pem', 'other']);
  const rep = assertReplays(dir, rec, 2);
  assertNoRealSockets(rec, rep);
  const plain = [0, 1].map(() => {
    const copy = workdir('retrace-https-plain-');
    writeFiles(copy, { 'app.mjs': HTTPS });
    fs.cpSync(path.join(dir, 'hidden'), copy, { recursive: true });
    return runPlain(copy, ['app.mjs'], { env: { NODE_EXTRA_CA_CERTS: path.join(copy, 'cert.pem') } }).stdout;
  });
  assert.notEqual(plain[0], plain[1]);
});

const STARTTLS = `
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
// A protocol that upgrades a plain connection to TLS, as PostgreSQL and MySQL clients do.
const ca = fs.readFileSync('cert.pem');
const raw = net.connect(Number(process.env.PORT), '127.0.0.1');
raw.once('data', (greeting) => {
  console.log('greeting:', String(greeting).trim());
  raw.write('STARTTLS\\r\\n');
  raw.once('data', (reply) => {
    console.log('reply:', String(reply).trim());
    const secure = tls.connect({ socket: raw, ca, servername: 'localhost' }, () => {
      console.log('upgraded:', secure.authorized, secure.getProtocol());
      secure.write('ping');
    });
    secure.on('data', (d) => {
      console.log('over TLS:', String(d));
      secure.end();
    });
    secure.on('close', () => console.log('TLS closed; plain socket destroyed:', raw.destroyed));
  });
});
raw.on('close', () => console.log('plain socket closed'));
`;

test('a plain connection upgraded with tls.connect({ socket }) replays as plaintext, without the server or certificates', async () => {
  const dir = workdir('retrace-starttls-');
  writeFiles(dir, { 'app.mjs': STARTTLS });
  selfSignedCert(dir);
  const key = fs.readFileSync(path.join(dir, 'key.pem'));
  const cert = fs.readFileSync(path.join(dir, 'cert.pem'));
  const server = net.createServer((s) => {
    s.write('220 ready\r\n');
    s.once('data', () => {
      s.write('220 go ahead\r\n', () => {
        const secure = new tls.TLSSocket(s, { isServer: true, key, cert });
        secure.on('data', (m) => secure.write(`secret ${Math.random()} for ${m}`));
        secure.on('end', () => secure.end());
        secure.on('error', () => {});
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const running = start(dir, 'app.mjs', { env: { PORT: String(port) }, waitFor: /^TLS closed/m });
  const rec = await running.done;
  server.close();
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /upgraded: true TLSv1\.\d\nover TLS: secret 0\.\d+ for ping/);
  hide(dir, ['key.pem', 'cert.pem']);
  assertReplays(dir, rec, 2);
});

test('HTTP/2 warns while recording and replay stops there with a clear message', () => {
  const dir = workdir('retrace-http2-');
  writeFiles(dir, {
    'app.mjs': `
import http2 from 'node:http2';
console.log('before', Math.random() < 2);
const server = http2.createServer((req, res) => res.end('hi'));
server.listen(0, '127.0.0.1', () => {
  const client = http2.connect('http://127.0.0.1:' + server.address().port);
  const req = client.request({ ':path': '/' });
  req.setEncoding('utf8');
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => { console.log('got', body); client.close(); server.close(); });
  req.end();
});
`,
  });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /got hi/);
  assert.match(rec.stderr, /retrace: warning: HTTP\/2 \(http2\.createServer\) is not recorded/);
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.equal(rep.stdout, 'before true\n');
  assert.match(rep.stderr, /replay diverged: HTTP\/2 \(http2\.createServer\) is not supported by retrace yet[^]*at app\.mjs:4:/);
});

const WEBSOCKET = `
import http from 'node:http';
import crypto from 'node:crypto';
${RESOURCES}
// A minimal WebSocket server on an HTTP upgrade, and Node's global WebSocket client (undici).
const server = http.createServer();
server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  const send = (text) => {
    const payload = Buffer.from(text);
    socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
  };
  send('welcome ' + Math.random());
  let pending = Buffer.alloc(0);
  socket.on('data', (data) => {
    pending = Buffer.concat([pending, data]);
    while (pending.length >= 6) {
      const opcode = pending[0] & 15;
      const length = pending[1] & 127;
      if (pending.length < 6 + length) break;
      const mask = pending.subarray(2, 6);
      const text = Buffer.from(pending.subarray(6, 6 + length).map((b, i) => b ^ mask[i % 4])).toString();
      pending = pending.subarray(6 + length);
      if (opcode === 8) return socket.end(Buffer.from([0x88, 2, 0x03, 0xe8]));
      send('echo ' + text + ' ' + Math.random());
    }
  });
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  const ws = new WebSocket('ws://127.0.0.1:' + server.address().port);
  let n = 0;
  ws.onopen = () => {
    console.log('open', ws.readyState);
    resources();
  };
  ws.onmessage = (event) => {
    console.log('message:', event.data);
    if (++n < 4) ws.send('ping ' + n);
    else ws.close(1000, 'done');
  };
  ws.onclose = (event) => {
    console.log('closed', event.code, event.wasClean);
    server.close(() => console.log('server closed'));
  };
});
`;

test('WebSocket over an HTTP upgrade, server and global WebSocket client in one program, replays offline', () => {
  const dir = workdir('retrace-websocket-');
  writeFiles(dir, { 'app.mjs': WEBSOCKET });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /message: echo ping 3 0\.\d+\nclosed 1000 true\nserver closed/);
  const rep = assertReplays(dir, rec, 2);
  assertNoRealSockets(rec, rep);
  assert.notEqual(runPlain(dir, ['app.mjs']).stdout, runPlain(dir, ['app.mjs']).stdout);
});

test("the HTTP server's request timeout (its connection checker) answers 408 in replay as it did when recorded", async () => {
  const dir = workdir('retrace-http-408-');
  writeFiles(dir, {
    'server.mjs': `
import http from 'node:http';
const server = http.createServer({ connectionsCheckingInterval: 40, headersTimeout: 120, requestTimeout: 150 }, (req, res) => res.end('fast ' + Math.random()));
let closed = 0;
server.on('connection', (s) => s.on('close', () => {
  console.log('connection closed');
  if (++closed === 2) server.close(() => console.log('server closed'));
}));
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`,
  });
  const running = start(dir, 'server.mjs');
  const port = Number(await running.ready);
  // One client never finishes its request headers; another is served.
  const replies: string[] = [];
  await Promise.all(
    [
      'GET /slow HTTP/1.1\r\nHost: x\r\n',
      'GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ].map((text) => new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(text));
      s.on('data', (d) => replies.push(String(d).split('\r\n')[0]!));
      s.on('close', () => resolve());
    })),
  );
  const rec = await running.done;
  assert.deepEqual(replies.sort(), ['HTTP/1.1 200 OK', 'HTTP/1.1 408 Request Timeout']);
  assert.match(rec.stdout, /server closed/);
  assertReplays(dir, rec, 2);
});
