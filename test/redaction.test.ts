// Redaction at record time (docs/security.md), through the real CLI: secrets in the environment,
// HTTP headers, cookies, JSON bodies, a PostgreSQL password on the wire, .env and key files never
// reach the recording, `show` or `why`; a program that only passes secrets along replays offline
// to the same output; one that computes on a secret stops with a divergence that says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { cli, describeRun, record, replay, retrace } from './helpers.js';
import { libraryWorkdir, serverListening, startServer } from './network-helpers.js';
import { chunkHeaderSize, ChunkCodec, MAGIC, PREAMBLE_SIZE } from '../src/core/trace/format.js';

/** A secret no program or library would print by chance. */
const secret = (prefix: string) => `${prefix}${randomBytes(9).toString('hex')}`;

/**
 * Every byte of every trace file of a recording, each chunk decompressed (header, events, modules,
 * end), walked by the chunk layout of format.ts; the recordings here are not encrypted.
 */
function decodedRecording(dir: string): Buffer {
  const parts: Buffer[] = [];
  let chunks = 0;
  for (const name of fs.readdirSync(path.join(dir, 'recording'))) {
    const data = fs.readFileSync(path.join(dir, 'recording', name));
    parts.push(data);
    const version = data.readUInt16LE(MAGIC.length);
    const headerSize = chunkHeaderSize(version);
    // Formats 1-2: type, codec, raw u32, stored u32, crc; format 3 adds a sequence number after the codec.
    const storedAt = version >= 3 ? 10 : 6;
    for (let pos = PREAMBLE_SIZE; pos + headerSize <= data.length; chunks++) {
      const codec = data.readUInt8(pos + 1);
      const storedLength = data.readUInt32LE(pos + storedAt);
      const stored = data.subarray(pos + headerSize, pos + headerSize + storedLength);
      assert.equal(codec & ~ChunkCodec.Deflate, 0, `${name}: a chunk with a codec this test cannot read`);
      parts.push(codec & ChunkCodec.Deflate ? zlib.inflateRawSync(stored) : stored);
      pos += headerSize + storedLength;
    }
  }
  assert.ok(chunks >= 3, 'the recording was walked chunk by chunk');
  return Buffer.concat(parts);
}

/** The forms a secret could take in stored bytes: as is, base64 (Basic auth), hex. */
function forms(value: string): string[] {
  return [value, Buffer.from(value).toString('base64').replace(/=+$/, ''), Buffer.from(value).toString('hex')];
}

function assertAbsent(haystack: Buffer | string, secrets: Record<string, string>, where: string): void {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack;
  for (const [name, value] of Object.entries(secrets)) {
    for (const form of forms(value)) assert.ok(!text.includes(form), `${name} (${form}) is in ${where}`);
  }
}

/**
 * `retrace show` in all its forms: the timeline and its JSON, every event in full, and the JSON of
 * every event that holds a redacted value (where another rendering of the same bytes could leak).
 */
async function allShowOutputs(dir: string): Promise<string[]> {
  const timeline = retrace(dir, ['show', '--all', '--no-pager']);
  const json = retrace(dir, ['show', '--all', '--json']);
  assert.equal(timeline.status, 0, describeRun(timeline));
  assert.equal(json.status, 0, describeRun(json));
  const outputs = [timeline.stdout, json.stdout];
  const info = JSON.parse(retrace(dir, ['info', '--json']).stdout) as { process: number; events: number }[];
  const run = (args: string[]) => new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { cwd: dir, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });
  // Several at a time: each is a short CLI run.
  const inBatches = async (jobs: string[][]) => {
    const out: string[] = [];
    for (let i = 0; i < jobs.length; i += 8) out.push(...(await Promise.all(jobs.slice(i, i + 8).map(run))));
    return out;
  };
  const events = info.flatMap((p) => Array.from({ length: p.events }, (_, n) => ['show', '--process', String(p.process), '--event', String(n)]));
  const texts = await inBatches(events);
  outputs.push(...texts);
  outputs.push(...(await inBatches(events.filter((_, i) => texts[i]!.includes('(redacted:')).map((args) => [...args, '--json']))));
  return outputs;
}

// ---- a PostgreSQL cluster of the test's own, with password authentication ----

interface Cluster {
  port: number;
  stop(): void;
}

function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * A fresh cluster whose TCP connections authenticate with a cleartext password (role postgres),
 * and with SCRAM-SHA-256 for the role app_scram; or why not.
 */
async function startCluster(password: string, scramPassword: string): Promise<Cluster | string> {
  const bin = postgresBin();
  if (!bin) return 'initdb is not installed (/usr/lib/postgresql/*/bin): install PostgreSQL to run this test';
  if (process.getuid?.() !== 0) return 'starting a PostgreSQL cluster needs root (runuser -u postgres)';
  if (spawnSync('id', ['-u', 'postgres']).status !== 0) return 'there is no postgres user to run the cluster as';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-pg-'));
  const as = (cmd: string, args: string[]) => spawnSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { encoding: 'utf8', timeout: 60_000 });
  spawnSync('chown', ['postgres', dir]);
  fs.writeFileSync(path.join(dir, 'pw'), `${password}\n`);
  spawnSync('chown', ['postgres', path.join(dir, 'pw')]);
  const init = as('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', `--pwfile=${path.join(dir, 'pw')}`, '--auth-local=trust', '--auth-host=password', '--no-sync', '-E', 'UTF8']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB`;
  const start = as('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-w', '-o', options, 'start']);
  if (start.status !== 0) throw new Error(`pg_ctl start failed: ${start.stderr}\n${fs.readFileSync(path.join(dir, 'log'), 'utf8')}`);
  const role = as('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE ROLE app_scram LOGIN PASSWORD '${scramPassword}'`]);
  if (role.status !== 0) throw new Error(`psql failed: ${role.stderr}`);
  const hba = path.join(dir, 'data', 'pg_hba.conf');
  fs.writeFileSync(hba, `host all app_scram 127.0.0.1/32 scram-sha-256\n${fs.readFileSync(hba, 'utf8')}`);
  as('pg_ctl', ['-D', path.join(dir, 'data'), 'reload']);
  return {
    port,
    stop() {
      as('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- the scenario ----

const SERVER_APP = `
import http from 'node:http';
import pg from 'pg';
const env = process.env;
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const json = JSON.parse(body);
  const cookies = Object.fromEntries(req.headers.cookie.split('; ').map((c) => c.split('=')));
  // Only passed along and compared: each of these must replay to the same answer.
  const checks = {
    apiKey: req.headers['x-api-key'] === env.API_KEY,
    bearer: req.headers.authorization === 'Bearer ' + env.CLIENT_TOKEN,
    cookie: cookies.sid === env.SESSION_SECRET,
    password: json.password === env.APP_PASSWORD,
    wrongPassword: json.password === env.APP_PASSWORD + 'x',
  };
  const upstream = await new Promise((resolve, reject) => {
    const out = http.request({ host: '127.0.0.1', port: Number(env.UPSTREAM_PORT), method: 'POST', path: '/forward',
      headers: { authorization: 'Bearer ' + json.token, 'content-type': 'application/json' } }, (r) => {
      let text = '';
      r.on('data', (d) => (text += d));
      r.on('end', () => resolve(JSON.parse(text)));
    });
    out.on('error', reject);
    out.end(JSON.stringify({ token: json.token, user: json.user }));
  });
  const db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  const { rows } = await db.query('SELECT current_user AS who, $1::text AS note', [json.user]);
  await db.end();
  // The same with SCRAM-SHA-256, the password in PGPASSWORD.
  const scram = new pg.Client({ host: '127.0.0.1', port: Number(env.PG_PORT), user: 'app_scram', database: 'postgres' });
  await scram.connect();
  rows[0].scram = (await scram.query('SELECT current_user AS who')).rows[0].who;
  await scram.end();
  res.setHeader('set-cookie', 'sid=' + env.SESSION_SECRET + '; HttpOnly');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ checks, upstream, db: rows[0] }));
  console.log('served', JSON.stringify({ checks, upstream, db: rows[0] }));
  server.close();
});
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

// An unrecorded service the program forwards a token to: it says whether the token was the real one.
const UPSTREAM = `
import http from 'node:http';
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    res.end(JSON.stringify({ tokenOk: req.headers.authorization === 'Bearer ' + process.env.UPSTREAM_TOKEN && JSON.parse(body).token === process.env.UPSTREAM_TOKEN }));
    server.close();
  });
});
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

test('a recording holds no secret: environment, headers, cookies, JSON body, a token forwarded upstream, PostgreSQL passwords (cleartext and SCRAM); replay matches', async (t) => {
  const secrets = {
    API_KEY: secret('ak_'),
    CLIENT_TOKEN: secret('ct_'),
    SESSION_SECRET: secret('ss_'),
    APP_PASSWORD: secret('pw_'),
    UPSTREAM_TOKEN: secret('ut_'),
    PG_PASSWORD: secret('pg_'),
    SCRAM_PASSWORD: secret('scram_'),
  };
  const cluster = await startCluster(secrets.PG_PASSWORD, secrets.SCRAM_PASSWORD);
  if (typeof cluster === 'string') return t.skip(cluster);
  try {
    const dir = libraryWorkdir({ 'app.mjs': SERVER_APP, 'upstream.mjs': UPSTREAM });
    const upstream = await startServer(dir, 'upstream.mjs', { plain: true, env: { UPSTREAM_TOKEN: secrets.UPSTREAM_TOKEN } });
    const env = {
      API_KEY: secrets.API_KEY,
      CLIENT_TOKEN: secrets.CLIENT_TOKEN,
      SESSION_SECRET: secrets.SESSION_SECRET,
      APP_PASSWORD: secrets.APP_PASSWORD,
      UPSTREAM_PORT: String(upstream.port),
      DATABASE_URL: `postgres://postgres:${secrets.PG_PASSWORD}@127.0.0.1:${cluster.port}/postgres`,
      PG_PORT: String(cluster.port),
      PGPASSWORD: secrets.SCRAM_PASSWORD,
    };
    const server = await startServer(dir, 'app.mjs', { env });
    const reply = await new Promise<{ status: number; body: string; setCookie: string[] }>((resolve, reject) => {
      const body = JSON.stringify({ user: 'ann', password: secrets.APP_PASSWORD, token: secrets.UPSTREAM_TOKEN });
      const req = (http_request())(
        { host: '127.0.0.1', port: server.port, method: 'POST', path: '/login',
          headers: { 'content-type': 'application/json', 'x-api-key': secrets.API_KEY, authorization: `Bearer ${secrets.CLIENT_TOKEN}`, cookie: `sid=${secrets.SESSION_SECRET}; theme=dark` } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, setCookie: res.headers['set-cookie'] ?? [] }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    const recorded = await server.done;
    await upstream.done;
    assert.equal(recorded.status, 0, describeRun(recorded));
    assert.equal(reply.status, 200);
    // The program really saw and used the secrets when recorded.
    assert.deepEqual(JSON.parse(reply.body), {
      checks: { apiKey: true, bearer: true, cookie: true, password: true, wrongPassword: false },
      upstream: { tokenOk: true },
      db: { who: 'postgres', note: 'ann', scram: 'app_scram' },
    });
    assert.deepEqual(reply.setCookie, [`sid=${secrets.SESSION_SECRET}; HttpOnly`]);

    assertAbsent(decodedRecording(dir), secrets, 'the recording');
    const outputs = await allShowOutputs(dir);
    for (const out of outputs) assertAbsent(out, secrets, 'retrace show output');
    assert.ok(outputs.some((o) => o.includes('secrets redacted at record time')), 'show says the recording is redacted');

    const replayed = replay(dir, [], { offline: true });
    assert.equal(replayed.status, 0, describeRun(replayed));
    assert.equal(replayed.stdout.split('\n').filter((l) => l.startsWith('served')).join('\n'), recorded.stdout.split('\n').filter((l) => l.startsWith('served')).join('\n'));
  } finally {
    cluster.stop();
  }
});

function http_request(): typeof import('node:http').request {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (process as unknown as { getBuiltinModule(name: string): typeof import('node:http') }).getBuiltinModule('node:http').request;
}

// ---- project rules, files, --no-redact, computing on a secret ----

const RULES_APP = `
import fs from 'node:fs';
import http from 'node:http';
const vars = Object.fromEntries(fs.readFileSync('.env', 'utf8').trim().split('\\n').map((l) => l.split('=')));
const pem = await fs.promises.readFile('keys/service.pem');
const priv = fs.readFileSync('config/private.json', 'utf8');
console.log('files', Object.keys(vars).join(','), vars.DB_PASSWORD.length, vars.PLAIN_SETTING, pem.length, priv.length);
console.log('license', process.env.ACME_LICENSE.length);
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const j = JSON.parse(body);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ tenant: req.headers['x-tenant-id'].length, card: j.card.number.length, ssn: j.ssn.length, name: j.name }));
  server.close();
});
server.listen(0, '127.0.0.1', () => {
  const req = http.request({ host: '127.0.0.1', port: server.address().port, method: 'POST', path: '/pay',
    headers: { 'x-tenant-id': process.env.TENANT, 'content-type': 'application/json' } }, (res) => {
    let text = '';
    res.on('data', (d) => (text += d));
    res.on('end', async () => {
      console.log('reply', text);
      if (process.env.PG_TEST) {
        const pg = (await import('pg')).default;
        const db = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
        await db.connect();
        const { rows } = await db.query("SELECT 'h-' || md5($1::text) AS ssn_hash, 'shown-' || $2::text AS other", [process.env.HASH_INPUT, 'x']);
        console.log('db', rows[0].ssn_hash.length, rows[0].other);
        await db.end();
      }
    });
  });
  req.end(JSON.stringify({ name: 'ann', card: { number: process.env.CARD }, ssn: process.env.SSN }));
});
`;

test('project rules (retrace.config.json): environment names, headers, JSON paths, SQL columns and files; .env by variable, key files whole', async () => {
  const s = {
    DB_PASSWORD: secret('dotenv_'),
    PEM: secret('pem_'),
    PRIVATE: secret('private_'),
    ACME_LICENSE: secret('lic_'),
    TENANT: secret('tenant_'),
    CARD: `4111${randomBytes(6).toString('hex').replace(/\D/g, '7').slice(0, 12)}`,
    SSN: `${randomBytes(4).readUInt32BE(0) % 900 + 100}-${randomBytes(4).readUInt32BE(0) % 90 + 10}-7788`,
  };
  const plainSetting = secret('visible_');
  const pg: Record<string, string> = (await serverListening(5432)) ? { PG_TEST: '1' } : {};
  const dir = libraryWorkdir({
    'app.mjs': RULES_APP,
    '.env': `DB_PASSWORD=${s.DB_PASSWORD}\nPLAIN_SETTING=${plainSetting}\n`,
    'keys/service.pem': `-----BEGIN PRIVATE KEY-----\n${s.PEM}\n-----END PRIVATE KEY-----\n`,
    'config/private.json': JSON.stringify({ value: s.PRIVATE }),
    'retrace.config.json': JSON.stringify({ redact: { env: ['ACME_*', 'TENANT', 'CARD', 'SSN'], headers: ['x-tenant-id'], json: ['$.card.number', 'ssn'], sql: ['ssn_hash'], files: ['config/private.json'] } }),
  });
  // The program gets these from its environment (redacted by the env rule); the header, JSON and
  // column rules are what keep them out of the socket bytes.
  const hashInput = secret('input_');
  const env = { ACME_LICENSE: s.ACME_LICENSE, TENANT: s.TENANT, CARD: s.CARD, SSN: s.SSN, HASH_INPUT: hashInput, ...pg };
  const recorded = record(dir, [process.execPath, 'app.mjs'], { env });
  assert.equal(recorded.status, 0, describeRun(recorded));
  assert.match(recorded.stdout, new RegExp(`files DB_PASSWORD,PLAIN_SETTING ${s.DB_PASSWORD.length} ${plainSetting}`));
  assert.match(recorded.stdout, /reply \{"tenant":\d+,"card":16,"ssn":11,"name":"ann"\}/);
  const hash = (await import('node:crypto')).createHash('md5').update(hashInput).digest('hex');
  const stored = decodedRecording(dir);
  assertAbsent(stored, { ...s, ...(pg.PG_TEST ? { SSN_HASH: hash } : {}) }, 'the recording');
  // Only what the rules name: the rest of .env, the JSON body and the result row stay readable.
  const text = stored.toString('latin1');
  assert.ok(text.includes(plainSetting), 'a .env variable that is not secret is kept');
  assert.ok(text.includes('"name":"ann"'), 'JSON members that are not secret are kept');
  if (pg.PG_TEST) assert.ok(text.includes('shown-x'), 'columns that are not secret are kept');

  const replayed = replay(dir, [], { offline: true });
  assert.equal(replayed.status, 0, describeRun(replayed));
  assert.equal(replayed.stdout, recorded.stdout);

  // A mistake in the rules is one line before anything runs.
  fs.writeFileSync(path.join(dir, 'retrace.config.json'), JSON.stringify({ redact: { envs: ['X'] } }));
  const bad = record(dir, [process.execPath, 'app.mjs'], { env, out: 'other' });
  assert.equal(bad.status, 2, describeRun(bad));
  assert.match(bad.stderr, /^retrace: .*retrace\.config\.json: unknown redaction rule "envs"/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.ok(!fs.existsSync(path.join(dir, 'other')));
});

test('--no-redact stores secrets as they were and says so; the default does not store them', () => {
  const key = secret('ak_');
  const dir = libraryWorkdir({ 'app.mjs': "console.log('key length', process.env.API_KEY.length);\n" });
  const plain = record(dir, [process.execPath, 'app.mjs'], { env: { API_KEY: key } });
  assert.equal(plain.status, 0, describeRun(plain));
  assert.ok(!plain.stderr.includes('--no-redact'));
  assertAbsent(decodedRecording(dir), { API_KEY: key }, 'the default recording');

  const env: NodeJS.ProcessEnv = { ...process.env, API_KEY: key };
  for (const name of Object.keys(env)) if (name.startsWith('RETRACE_') || name === 'NODE_TEST_CONTEXT') delete env[name];
  const r = spawnSync(process.execPath, [cli, 'record', '--force', '--no-redact', '--', process.execPath, 'app.mjs'], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /recording without redaction \(--no-redact\)/);
  assert.ok(decodedRecording(dir).toString('latin1').includes(key), 'the secret is in a --no-redact recording');
  assert.match(retrace(dir, ['show', '--no-pager']).stdout, /recorded with --no-redact/);
});

const SIGNING_APP = `
import http from 'node:http';
import { createHmac } from 'node:crypto';
const server = http.createServer((req, res) => { res.end('ok'); server.close(); });
server.listen(0, '127.0.0.1', () => {
  const body = 'amount=10';
  const signature = createHmac('sha256', process.env.SIGNING_SECRET).update(body).digest('hex');
  const req = http.request({ host: '127.0.0.1', port: server.address().port, method: 'POST', headers: { 'x-signature': signature } }, (res) => {
    res.resume();
    res.on('end', () => console.log('sent'));
  });
  req.end(body);
});
`;

test('a program that computes on a redacted value stops in replay with a divergence that names the value and the line; why names a redacted origin', () => {
  const dir = libraryWorkdir({ 'app.mjs': SIGNING_APP, 'key.mjs': "const key = process.env.API_KEY;\nconst header = 'Key ' + key;\nconsole.log(header.length);\n" });
  const recorded = record(dir, [process.execPath, 'app.mjs'], { env: { SIGNING_SECRET: secret('sign_') } });
  assert.equal(recorded.status, 0, describeRun(recorded));
  const replayed = replay(dir, [], { offline: true });
  assert.equal(replayed.status, 86, describeRun(replayed));
  assert.match(replayed.stderr, /a redacted value was involved: the program computed an HMAC \(sha256\) keyed with it from env SIGNING_SECRET, redacted, at app\.mjs:7:\d+/);

  const keyed = record(dir, [process.execPath, 'key.mjs'], { env: { API_KEY: secret('ak_') } });
  assert.equal(keyed.status, 0, describeRun(keyed));
  const why = retrace(dir, ['why', '--at', 'key.mjs:3', '--expr', 'header']);
  assert.equal(why.status, 0, describeRun(why));
  assert.match(why.stdout, /env API_KEY, redacted/);
});

const DB_LOGINS_APP = `
const out = [];
if (process.env.REDIS_TEST) {
  const Redis = (await import('ioredis')).default;
  // A password the server does not require: ioredis sends AUTH, is told none is set, and goes on.
  const redis = new Redis({ host: '127.0.0.1', port: 6379, password: process.env.REDIS_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  await redis.set(process.env.KEY, 'v1');
  out.push('redis ' + (await redis.get(process.env.KEY)));
  await redis.del(process.env.KEY);
  redis.disconnect();
}
if (process.env.MYSQL_TEST) {
  const mysql = (await import('mysql2/promise')).default;
  try {
    await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: process.env.MYSQL_PASSWORD, database: 'test' });
    out.push('mysql connected');
  } catch (err) {
    out.push('mysql ' + err.code);
  }
}
console.log(out.join('\\n'));
`;

test('database logins: the Redis AUTH password and the MySQL handshake auth response are not stored; replay matches', async (t) => {
  const redis: Record<string, string> = (await serverListening(6379)) ? { REDIS_TEST: '1' } : {};
  const mysql: Record<string, string> = (await serverListening(3306)) ? { MYSQL_TEST: '1' } : {};
  if (!redis.REDIS_TEST && !mysql.MYSQL_TEST) return t.skip('neither Redis (127.0.0.1:6379) nor MariaDB (127.0.0.1:3306) is listening');
  const secrets = { REDIS_PASSWORD: secret('redis_'), MYSQL_PASSWORD: secret('mysql_') };
  const dir = libraryWorkdir({ 'app.mjs': DB_LOGINS_APP });
  // The environment is redacted by name; what the clients write on their sockets (the AUTH
  // command, the handshake) is the protocol rules' to keep out.
  const env: Record<string, string> = { REDIS_PASSWORD: secrets.REDIS_PASSWORD, MYSQL_PASSWORD: secrets.MYSQL_PASSWORD, KEY: `retrace_redact_${process.pid}_${Date.now()}`, ...redis, ...mysql };
  const recorded = record(dir, [process.execPath, 'app.mjs'], { env });
  assert.equal(recorded.status, 0, describeRun(recorded));
  if (redis.REDIS_TEST) assert.match(recorded.stdout, /redis v1/);
  if (mysql.MYSQL_TEST) assert.match(recorded.stdout, /mysql ER_ACCESS_DENIED_ERROR/);
  assertAbsent(decodedRecording(dir), secrets, 'the recording');
  if (mysql.MYSQL_TEST) {
    // The handshake response's auth data (a scramble of the password, not the password itself)
    // must be a placeholder too.
    const { TraceFile } = await import('../src/core/trace/reader.js');
    const trace = TraceFile.open(path.join(dir, 'recording', 'p0.rtrc'));
    const writes = [...trace.events()].filter((e) => e.kind === 'call' && e.channel.name === 'net.write').map((e) => (e as { args: [number, Buffer] }).args[1]);
    const response = writes.find((b) => Buffer.isBuffer(b) && b.length > 36 && b[3] === 1 && b.readUIntLE(0, 3) === b.length - 4);
    assert.ok(response, 'the MySQL handshake response was recorded');
    const userEnd = response.indexOf(0, 36);
    const authLength = response[userEnd + 1]!;
    assert.ok(authLength > 0);
    assert.match(response.toString('latin1', userEnd + 2, userEnd + 2 + authLength), /^(redacted\d+\**|\**\d*)$/);
  }
  const replayed = replay(dir, [], { offline: true });
  assert.equal(replayed.status, 0, describeRun(replayed));
  assert.equal(replayed.stdout, recorded.stdout);
});

const SPAWN_APP = `
import { spawnSync } from 'node:child_process';
// A token the program derives from its key and hands to a child in its environment.
const token = 'tok-' + process.env.API_KEY.split('').reverse().join('');
const child = spawnSync(process.execPath, ['-e', 'console.log("child sees", process.env.CHILD_TOKEN.length)'], { env: { ...process.env, CHILD_TOKEN: token }, encoding: 'utf8' });
console.log(child.stdout.trim());
`;

test('a secret passed to a spawned child in its environment is stored as [redacted], and the spawn still replays', () => {
  const key = secret('ak_');
  const reversed = key.split('').reverse().join('');
  const dir = libraryWorkdir({ 'app.mjs': SPAWN_APP });
  const recorded = record(dir, [process.execPath, 'app.mjs'], { env: { API_KEY: key } });
  assert.equal(recorded.status, 0, describeRun(recorded));
  assert.match(recorded.stdout, new RegExp(`child sees ${reversed.length + 4}`));
  assertAbsent(decodedRecording(dir), { API_KEY: key, TOKEN: reversed }, 'the recording');
  const replayed = replay(dir, [], { offline: true });
  assert.equal(replayed.status, 0, describeRun(replayed));
  assert.equal(replayed.stdout, recorded.stdout);
});
