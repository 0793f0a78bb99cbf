// The dgram boundary end to end through the real CLI: UDP sockets recorded with real sockets on
// 127.0.0.1 and ::1, and replayed offline (`unshare -n`) with no UDP socket at all. Programs print
// what they saw (random payloads, ephemeral ports, the order datagrams arrived in); paired
// unrecorded runs show that the output really varies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, record, runPlain, workdir, writeFiles, type Run } from './helpers.js';
import { assertDiverges, assertReplays, start } from './socket-helpers.js';

const RESOURCES = `const resources = () => console.error('resources: ' + process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap').join(','));`;

const resourceLines = (run: Run) => [...run.stderr.matchAll(/^resources: (.*)$/gm)].map((m) => m[1]!);

/** The recording held real UDP sockets; a replay holds none (nor any DNS request). */
function assertNoRealUdp(rec: Run, rep: Run): void {
  assert.ok(resourceLines(rec).some((r) => /UDPWrap/.test(r)), `the recording should show real UDP sockets\n${rec.stderr}`);
  const lines = resourceLines(rep);
  assert.equal(lines.length, resourceLines(rec).length, rep.stderr);
  for (const line of lines) assert.doesNotMatch(line, /UDPWrap|SendWrap|GetAddrInfoReqWrap/, `replay used a real UDP socket: ${line}`);
}

const ONE_PROGRAM = `
import dgram from 'node:dgram';
${RESOURCES}
// A server and several clients in one program: datagrams race each other; the server echoes
// each with a random suffix.
const server = dgram.createSocket('udp4');
let received = 0;
server.on('message', (msg, rinfo) => {
  console.log('server got', JSON.stringify(String(msg)), rinfo.address, rinfo.family, rinfo.size, rinfo.port === clientPorts.get(String(msg).split(' ')[0]));
  server.send('echo ' + msg + ' ' + Math.random().toString(36).slice(2, 8), rinfo.port, rinfo.address, (err, bytes) => console.log('server sent', err, bytes));
  if (++received === 4) setTimeout(finish, 30);
});
server.on('listening', () => console.log('server listening on', server.address().address, server.address().family));
server.on('close', () => console.log('server closed'));
const clientPorts = new Map();
let plain, connected, listed, six;
server.bind({ port: 0, address: '127.0.0.1' }, () => {
  const port = server.address().port;
  server.setBroadcast(true);
  console.log('ttl', server.setTTL(7), 'multicast ttl', server.setMulticastTTL(3), 'loopback', server.setMulticastLoopback(true));
  for (const [name, call] of [['join', () => server.addMembership('239.255.42.99', '127.0.0.1')], ['interface', () => server.setMulticastInterface('127.0.0.1')], ['leave', () => server.dropMembership('239.255.42.99', '127.0.0.1')]]) {
    try {
      call();
      console.log('multicast', name, 'ok');
    } catch (err) {
      console.log('multicast', name, err.code, err.syscall);
    }
  }
  server.setRecvBufferSize(65536);
  server.setSendBufferSize(32768);
  console.log('recv buffer at least 64 KiB', server.getRecvBufferSize() >= 65536);

  // Sent before binding: dgram queues it until the implicit bind is done.
  plain = dgram.createSocket({ type: 'udp4' }, (m) => console.log('plain got', JSON.stringify(String(m))));
  plain.send('plain ' + Math.random().toString(36).slice(2, 8), port, '127.0.0.1', (err) => {
    clientPorts.set('plain', plain.address().port);
    console.log('plain sent', err);
  });
  resources();

  // A connected socket, and a send of a list of buffers to a name (resolved by dns.lookup).
  connected = dgram.createSocket('udp4');
  connected.connect(port, '127.0.0.1', () => {
    const remote = connected.remoteAddress();
    console.log('connected to', remote.address, remote.port === port);
    clientPorts.set('connected', connected.address().port);
    connected.send('connected one');
    connected.send(Buffer.from('connected two'), (err, n) => console.log('connected sent', err, n));
  });
  connected.on('message', (m) => console.log('connected got', JSON.stringify(String(m))));

  listed = dgram.createSocket('udp4');
  listed.bind(0, () => {
    clientPorts.set('listed', listed.address().port);
    listed.send([Buffer.from('listed '), 'in ', new Uint8Array([112, 97, 114, 116, 115])], port, 'localhost', (err, n) => console.log('listed sent', err, n));
  });
  listed.on('message', (m) => console.log('listed got', JSON.stringify(String(m))));
  listed.unref();
  listed.ref();
});

// IPv6 on ::1; a second socket on the same port fails with EADDRINUSE; a connected socket whose
// peer is gone gets ECONNREFUSED as an 'error'.
six = dgram.createSocket('udp6');
six.bind(0, '::1', () => {
  const { address, family, port } = six.address();
  console.log('six bound', address, family, typeof port);
  const taken = dgram.createSocket('udp6');
  taken.on('error', (err) => {
    console.log('taken:', err.code, err.syscall, err.address, err.port === port);
    taken.close();
  });
  taken.bind(port, '::1');
  const lonely = dgram.createSocket('udp4');
  lonely.on('error', (err) => {
    console.log('lonely:', err.code, err.syscall, err.message);
    lonely.close(() => console.log('lonely closed'));
    six.close();
  });
  const nobody = dgram.createSocket('udp4');
  nobody.bind(0, '127.0.0.1', () => {
    const gone = nobody.address().port;
    nobody.close(() => lonely.connect(gone, '127.0.0.1', () => lonely.send('anyone?')));
  });
});

function finish() {
  resources();
  connected.disconnect();
  try {
    connected.remoteAddress();
  } catch (err) {
    console.log('after disconnect:', err.code);
  }
  for (const s of [plain, connected, listed]) s.close();
  connected.on('close', () => console.log('connected closed'));
  server.close(() => resources());
}
`;

test('UDP server, clients and errors in one program replay offline, with no UDP socket opened', () => {
  const dir = workdir('retrace-dgram-');
  writeFiles(dir, { 'app.mjs': ONE_PROGRAM });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.equal([...rec.stdout.matchAll(/^server got /gm)].length, 4, rec.stdout);
  assert.match(rec.stdout, /server got "listed in parts" 127\.0\.0\.1 IPv4 15 true/);
  assert.match(rec.stdout, /connected to 127\.0\.0\.1 true/);
  assert.match(rec.stdout, /six bound ::1 IPv6 number/);
  assert.match(rec.stdout, /taken: EADDRINUSE bind ::1 true/);
  assert.match(rec.stdout, /lonely: ECONNREFUSED recvmsg recvmsg ECONNREFUSED/);
  assert.match(rec.stdout, /after disconnect: ERR_SOCKET_DGRAM_NOT_CONNECTED\n/);
  assert.match(rec.stdout, /connected closed/);
  assert.match(rec.stdout, /multicast join (ok|E[A-Z]+ addMembership)\nmulticast interface (ok|E[A-Z]+ setMulticastInterface)\nmulticast leave /);
  const rep = assertReplays(dir, rec, 2);
  assertNoRealUdp(rec, rep);

  // Unrecorded, payloads, ports and arrival order differ from run to run.
  const a = runPlain(dir, ['app.mjs']);
  const b = runPlain(dir, ['app.mjs']);
  assert.equal(a.status, 0, describeRun(a));
  assert.notEqual(a.stdout, b.stdout);

  // The server now echoes differently: replay stops at that send, naming the line, though dgram
  // sends from a later tick.
  const changed = ONE_PROGRAM.replace("server.send('echo ' + msg", "server.send('ECHO ' + msg");
  fs.writeFileSync(path.join(dir, 'app.mjs'), changed);
  const line = changed.split('\n').findIndex((l) => l.includes("server.send('ECHO ' + msg")) + 1;
  assertDiverges(dir, new RegExp(`UDP socket \\d+ sent a different datagram to 127\\.0\\.0\\.1:\\d+ than recorded: \\d+ bytes recorded, \\d+ now, first difference at byte 0[^]*recorded "echo [^]*now +"ECHO [^]*at app\\.mjs:${line}:`));
});

const CLIENT = `
import dgram from 'node:dgram';
${RESOURCES}
// A client of a UDP peer that only the recording had: it asks three questions at once; the
// peer answers each twice, after random delays, so the answers arrive interleaved.
const socket = dgram.createSocket('udp4');
const peer = Number(process.env.PEER_PORT);
let answers = 0;
socket.on('message', (msg, rinfo) => {
  console.log('answer', String(msg), 'from the peer', rinfo.port === peer);
  if (++answers === 6) {
    resources();
    socket.close();
  }
});
for (const q of ['alpha', 'beta', 'gamma']) socket.send('question ' + q, peer, '127.0.0.1');
socket.on('listening', () => {
  console.log('bound to a port', typeof socket.address().port);
  resources();
});
`;

test('a client of a UDP peer that is gone at replay gets the recorded datagrams in the recorded order', async () => {
  // The peer is the test process: not recorded, and closed before the replay.
  const peer = dgram.createSocket('udp4');
  peer.on('message', (msg, rinfo) => {
    for (let i = 1; i <= 2; i++) {
      setTimeout(() => peer.send(`${msg} / answer ${i} / ${Math.random().toString(36).slice(2, 8)}`, rinfo.port, rinfo.address), Math.random() * 40);
    }
  });
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  const env = { PEER_PORT: String(peer.address().port) };
  const dir = workdir('retrace-dgram-client-');
  writeFiles(dir, { 'app.mjs': CLIENT });
  try {
    const rec = await start(dir, 'app.mjs', { env, waitFor: /^never$/ }).done;
    assert.equal(rec.status, 0, describeRun(rec));
    assert.equal([...rec.stdout.matchAll(/^answer question \w+ \/ answer \d \/ \w+ from the peer true$/gm)].length, 6, rec.stdout);
    const a = await start(dir, 'app.mjs', { env, plain: true, waitFor: /^never$/ }).done;
    const b = await start(dir, 'app.mjs', { env, plain: true, waitFor: /^never$/ }).done;
    assert.notEqual(a.stdout, b.stdout);
    peer.close();
    const rep = assertReplays(dir, rec, 2);
    assertNoRealUdp(rec, rep);

    // A program that asks another question diverges at its send.
    const changed = CLIENT.replace("['alpha', 'beta', 'gamma']", "['alpha', 'delta', 'gamma']");
    fs.writeFileSync(path.join(dir, 'app.mjs'), changed);
    const line = changed.split('\n').findIndex((l) => l.includes("socket.send('question ' + q")) + 1;
    assertDiverges(dir, new RegExp(`first difference at byte 9[^]*recorded "question beta"[^]*now +"question delta"[^]*at app\\.mjs:${line}:`));
  } finally {
    try {
      peer.close();
    } catch {
      // already closed
    }
  }
});
