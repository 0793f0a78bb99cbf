// The dns boundary end to end through the real CLI. The network is closed here, so names come
// from what resolves locally (localhost, /etc/hosts) and from a real DNS server that the test
// process runs on 127.0.0.1 (UDP), unrecorded: its answers carry a counter, random addresses,
// random TTLs and random text, so two unrecorded runs differ. Replays run offline (`unshare -n`)
// with the server gone, and must make no query and no lookup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, retrace, workdir, writeFiles, type Run } from './helpers.js';
import { assertDiverges, assertReplays, start } from './socket-helpers.js';

// ---- a small DNS server (RFC 1035 wire format, one question per query) ----

const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35, TLSA: 52, ANY: 255, CAA: 257 } as const;

function encodeName(name: string): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([...labels, Buffer.from([0])]);
}
const characterString = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
const u16 = (...values: number[]) => Buffer.from(values.flatMap((v) => [v >> 8, v & 0xff]));
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};

/** A resource record owned by the question's name (a compression pointer to offset 12). */
function record(type: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([u16(0xc00c, type, 1), u32(ttl), u16(rdata.length), rdata]);
}

interface DnsServer {
  port: number;
  queries: number;
  close(): Promise<void>;
}

/**
 * Answers every record type Node can ask for, differently each time: a counter of queries, random
 * bytes and TTLs. Names starting with `missing` are NXDOMAIN; names starting with `slow` get no answer.
 */
async function startDnsServer(): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const server: DnsServer = { port: 0, queries: 0, close: () => new Promise((resolve) => socket.close(() => resolve())) };
  socket.on('message', (query, rinfo) => {
    const n = ++server.queries;
    let at = 12;
    const labels: string[] = [];
    while (query[at] !== 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString());
      at += query[at]! + 1;
    }
    const qtype = query.readUInt16BE(at + 1);
    const question = query.subarray(12, at + 5);
    const host = labels.join('.').toLowerCase();
    if (host.startsWith('slow')) return;
    const ttl = 60 + Math.floor(Math.random() * 3000);
    const rand = () => Math.random().toString(36).slice(2, 8);
    const answers: Buffer[] = [];
    const a = () => record(TYPE.A, ttl, Buffer.from([10, n % 256, Math.floor(Math.random() * 256), 1]));
    const txt = () => record(TYPE.TXT, ttl, Buffer.concat([characterString(`query ${n}`), characterString(rand())]));
    const mx = () => record(TYPE.MX, ttl, Buffer.concat([u16(n), encodeName(`mx${n}.${host}`)]));
    if (!host.startsWith('missing')) {
      switch (qtype) {
        case TYPE.A:
          answers.push(a(), record(TYPE.A, ttl + 1, Buffer.from([10, 255, 0, 1])));
          break;
        case TYPE.AAAA: {
          const ip = Buffer.alloc(16);
          ip[0] = 0xfd;
          ip[14] = n;
          ip[15] = Math.floor(Math.random() * 256);
          answers.push(record(TYPE.AAAA, ttl, ip));
          break;
        }
        case TYPE.TXT:
          answers.push(txt());
          break;
        case TYPE.MX:
          answers.push(mx());
          break;
        case TYPE.SRV:
          answers.push(record(TYPE.SRV, ttl, Buffer.concat([u16(1, 10, 20000 + Math.floor(Math.random() * 10000)), encodeName(`srv${n}.test`)])));
          break;
        case TYPE.CNAME:
          answers.push(record(TYPE.CNAME, ttl, encodeName(`target-${rand()}.test`)));
          break;
        case TYPE.NS:
          answers.push(record(TYPE.NS, ttl, encodeName(`ns${n}.test`)), record(TYPE.NS, ttl, encodeName('ns-b.test')));
          break;
        case TYPE.PTR:
          answers.push(record(TYPE.PTR, ttl, encodeName(`host-${rand()}.test`)));
          break;
        case TYPE.SOA:
          answers.push(record(TYPE.SOA, ttl, Buffer.concat([encodeName('ns1.test'), encodeName('admin.test'), u32(n), u32(3600), u32(600), u32(86400), u32(ttl)])));
          break;
        case TYPE.NAPTR:
          answers.push(record(TYPE.NAPTR, ttl, Buffer.concat([u16(n, 10), characterString('s'), characterString('SIP+D2U'), characterString(''), encodeName(`_sip._udp.${host}`)])));
          break;
        case TYPE.CAA:
          answers.push(record(TYPE.CAA, ttl, Buffer.concat([Buffer.from([0, 5]), Buffer.from('issue'), Buffer.from(`ca-${rand()}.test`)])));
          break;
        case TYPE.TLSA:
          answers.push(record(TYPE.TLSA, ttl, Buffer.concat([Buffer.from([3, 1, 1]), Buffer.from(Array.from({ length: 8 }, () => Math.floor(Math.random() * 256)))])));
          break;
        case TYPE.ANY:
          answers.push(a(), txt(), mx());
          break;
      }
    }
    const rcode = host.startsWith('missing') ? 3 : 0;
    const header = u16(query.readUInt16BE(0), 0x8180 | rcode, 1, answers.length, 0, 0);
    socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  server.port = socket.address().port;
  return server;
}

// ---- the program ----

const RESOURCES = `const resources = () => console.error('resources: ' + process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap').join(','));`;

const APP = `
import dns from 'node:dns';
import dnsPromises from 'node:dns/promises';
import { promisify } from 'node:util';
${RESOURCES}
const server = '127.0.0.1:' + process.env.DNS_PORT;
const said = (err) => err.code + ' ' + err.errno + ' ' + err.syscall + ' ' + err.hostname + ' | ' + err.message;
let waiting = 0;
const show = (label) => {
  waiting++;
  return (err, ...value) => {
    console.log(label, err ? said(err) : JSON.stringify(value));
    if (--waiting === 0) promisesPart().catch((err) => console.log('unexpected', err));
  };
};

// Callback API: a Resolver with the test's server; the answers arrive in whatever order they do.
const resolver = new dns.Resolver({ timeout: 3000, tries: 2 });
resolver.setServers([server]);
resolver.setLocalAddress('127.0.0.1');
console.log('servers', JSON.stringify(resolver.getServers()));
resolver.resolve4('a.test', { ttl: true }, show('A with ttl'));
resolver.resolve6('six.test', show('AAAA'));
resolver.resolveTxt('t.test', show('TXT'));
resolver.resolve('m.test', 'MX', show('MX via resolve()'));
resolver.resolveSrv('_sip._udp.test', show('SRV'));
resolver.resolveCname('alias.test', show('CNAME'));
resolver.resolveNs('zone.test', show('NS'));
resolver.resolveSoa('zone.test', show('SOA'));
resolver.resolvePtr('ptr.test', show('PTR'));
resolver.resolveNaptr('naptr.test', show('NAPTR'));
resolver.resolveCaa('caa.test', show('CAA'));
resolver.resolveAny('any.test', show('ANY'));
// TLSA records carry an ArrayBuffer (Node 22.15 has no resolveTlsa).
if (resolver.resolveTlsa) {
  const tlsa = show('TLSA');
  resolver.resolveTlsa('_443._tcp.tlsa.test', (err, records) => tlsa(err, records?.map((r) => ({ ...r, data: Buffer.from(r.data).toString('hex') }))));
}
resolver.reverse('10.9.8.7', show('reverse'));
resolver.resolve4('missing.test', show('unknown name'));
// Lookups go through the system resolver (/etc/hosts for localhost).
dns.lookup('localhost', show('lookup'));
dns.lookup('localhost', { all: true, family: 4 }, show('lookup all'));
dns.lookup('localhost', 4, show('lookup family 4'));
dns.lookup('no-such-host.invalid', show('lookup unknown'));
dns.lookup('127.0.0.1', show('lookup of an IP literal'));
dns.lookupService('127.0.0.1', 22, show('lookupService'));
resources();

async function promisesPart() {
  const p = new dnsPromises.Resolver();
  p.setServers([server]);
  const [txt, aaaa, mx] = await Promise.all([p.resolveTxt('pt.test'), p.resolve('p6.test', 'AAAA'), p.resolveMx('pm.test')]);
  console.log('promises: TXT', JSON.stringify(txt), 'AAAA', JSON.stringify(aaaa), 'MX', JSON.stringify(mx));
  console.log('promises: A with ttl', JSON.stringify(await p.resolve4('pa.test', { ttl: true })));
  await p.resolveSrv('missing-srv.test').catch((err) => console.log('promises: unknown name', said(err)));
  // The default resolvers, after setServers rebinds their functions.
  dns.promises.setServers([server]);
  console.log('dns.promises default: A', JSON.stringify(await dns.promises.resolve4('d.test')));
  dns.setServers([server]);
  console.log('default servers', JSON.stringify(dns.getServers()));
  await new Promise((resolve) => dns.resolveTxt('dt.test', (err, v) => resolve(console.log('dns default: TXT', err ? said(err) : JSON.stringify(v)))));
  console.log('promises lookup', JSON.stringify(await dnsPromises.lookup('localhost', { all: true })));
  console.log('promises lookup ipv4first', JSON.stringify(await dns.promises.lookup('localhost', { order: 'ipv4first', hints: dns.ADDRCONFIG })));
  console.log('promises lookup verbatim', JSON.stringify(await dnsPromises.lookup('localhost', { verbatim: true, family: 4 })));
  console.log('promisified lookup', JSON.stringify(await promisify(dns.lookup)('localhost', { family: 4 })));
  console.log('promises lookupService', JSON.stringify(await dnsPromises.lookupService('127.0.0.1', 80)));
  await dnsPromises.lookup('no-such-host.invalid').catch((err) => console.log('promises lookup unknown', said(err)));
  // A query that gets no answer, cancelled.
  const c = new dns.Resolver();
  c.setServers([server]);
  c.resolveTxt('slow.test', (err) => {
    console.log('cancelled:', said(err));
    resources();
  });
  dns.lookup('localhost', () => {});
  resources();
  c.cancel();
}
`;

/** Runs the program recorded (or plain) while the test's DNS server answers it. */
async function runWithServer(dir: string, plain: boolean): Promise<{ run: Run; queries: number }> {
  const server = await startDnsServer();
  try {
    const running = start(dir, 'app.mjs', { plain, env: { DNS_PORT: String(server.port) }, waitFor: /^cancelled/m });
    const run = await running.done;
    return { run, queries: server.queries };
  } finally {
    await server.close();
  }
}

const resourceLines = (run: Run) => [...run.stderr.matchAll(/^resources: (.*)$/gm)].map((m) => m[1]!);

test('lookups, resolve* of every record type, both APIs and their errors replay offline without the DNS server', async () => {
  const dir = workdir('retrace-dns-');
  writeFiles(dir, { 'app.mjs': APP });
  const { run: rec, queries } = await runWithServer(dir, false);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.ok(queries >= 20, `the server answered the recording (${queries} queries)`);
  assert.match(rec.stdout, /^servers \["127\.0\.0\.1:\d+"\]$/m);
  assert.match(rec.stdout, /^A with ttl \[\[\{"address":"10\.\d+\.\d+\.1","ttl":\d+\},\{"address":"10\.255\.0\.1","ttl":\d+\}\]\]$/m);
  assert.match(rec.stdout, /^TXT \[\[\["query \d+","\w+"\]\]\]$/m);
  assert.match(rec.stdout, /^MX via resolve\(\) \[\[\{"exchange":"mx\d+\.m\.test","priority":\d+(,"type":"MX")?\}\]\]$/m);
  assert.match(rec.stdout, /^ANY \[\[(?=.*"type":"A")(?=.*"type":"TXT")(?=.*"type":"MX").*\]\]$/m);
  if (typeof new dns.Resolver().resolveTlsa === 'function') {
    assert.match(rec.stdout, /^TLSA \[\[\{"certUsage":3,"selector":1,"match":1,"data":"[0-9a-f]{16}"\}\]\]$/m);
  }
  assert.match(rec.stdout, /^promisified lookup \{"address":"127\.0\.0\.1","family":4\}$/m);
  assert.match(rec.stdout, /^reverse \[\["host-\w+\.test"\]\]$/m);
  assert.match(rec.stdout, /^unknown name ENOTFOUND undefined queryA missing\.test \| queryA ENOTFOUND missing\.test$/m);
  assert.match(rec.stdout, /^lookup \["127\.0\.0\.1",4\]$/m);
  assert.match(rec.stdout, /^lookup unknown ENOTFOUND -?\d+ getaddrinfo no-such-host\.invalid \| getaddrinfo ENOTFOUND no-such-host\.invalid$/m);
  assert.match(rec.stdout, /^promises: unknown name ENOTFOUND undefined querySrv missing-srv\.test/m);
  assert.match(rec.stdout, /^dns default: TXT \[\["query \d+/m);
  assert.match(rec.stdout, /^cancelled: ECANCELLED undefined queryTxt slow\.test/m);
  // The recording had a real lookup in flight; the replays never do.
  assert.ok(resourceLines(rec).some((r) => /GetAddrInfoReqWrap/.test(r)), rec.stderr);
  for (let i = 0; i < 2; i++) {
    const rep = assertReplays(dir, rec);
    const lines = resourceLines(rep);
    assert.equal(lines.length, resourceLines(rec).length, rep.stderr);
    for (const line of lines) assert.doesNotMatch(line, /GetAddrInfoReqWrap|GetNameInfoReqWrap|QueryReqWrap|UDPWrap/, `replay made a real DNS request: ${line}`);
  }

  // Unrecorded, the answers (and the order they arrive in) differ from run to run.
  const a = await runWithServer(dir, true);
  const b = await runWithServer(dir, true);
  assert.equal(a.run.status, 0, describeRun(a.run));
  assert.notEqual(a.run.stdout, b.run.stdout);

  // A program that now asks for another name diverges there, naming the line.
  const changed = APP.replace("resolveTxt('pt.test')", "resolveTxt('pt2.test')");
  fs.writeFileSync(path.join(dir, 'app.mjs'), changed);
  const line = changed.split('\n').findIndex((l) => l.includes("'pt2.test'")) + 1;
  assertDiverges(dir, new RegExp(`dns\\.resolve\\('TXT', 'pt\\.test'[^]*attempted dns\\.resolve\\('TXT', 'pt2\\.test'[^]*at app\\.mjs:${line}:`));
});

const LISTEN = `
import net from 'node:net';
import dns from 'node:dns';
// A server listening on a name: its lookup is the program's own. A client connecting by name: that
// lookup belongs to the socket (recorded with the connection), not recorded twice.
const server = net.createServer((s) => s.end('hello ' + Math.random().toString(36).slice(2)));
server.listen(0, 'localhost', () => {
  const { address, family, port } = server.address();
  console.log('listening on', address, family, typeof port);
  const client = net.connect(port, 'localhost');
  client.on('lookup', (err, ip, type, host) => console.log('client lookup', err, ip, type, host));
  client.setEncoding('utf8').on('data', (d) => console.log('client got', d.length, 'characters'));
  client.on('close', () => server.close(() => dns.lookup('localhost', { all: true }, (err, all) => console.log('after close', JSON.stringify(all)))));
});
`;

test("listen(port, 'localhost') is recorded as a lookup; a socket's own lookup is not recorded twice", () => {
  const dir = workdir('retrace-dns-listen-');
  writeFiles(dir, { 'app.mjs': LISTEN });
  const rec = start(dir, 'app.mjs', { waitFor: /^after close/m });
  return rec.done.then((r) => {
    assert.equal(r.status, 0, describeRun(r));
    assert.match(r.stdout, /client lookup null 127\.0\.0\.1 4 localhost/);
    const info = retrace(dir, ['info', 'recording']);
    assert.equal(info.status, 0, describeRun(info));
    // listen's lookup and the program's own, and none for the client's connect.
    assert.match(info.stdout, /^\s+2\s+dns\.lookup$/m, info.stdout);
    assert.match(info.stdout, /^\s+1\s+net\.connect$/m, info.stdout);
    assertReplays(dir, r, 2);
  });
});
