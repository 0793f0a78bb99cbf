// Database clients over the socket boundary, against the real servers on localhost: node-postgres
// (Pool, transactions, prepared statements, LISTEN/NOTIFY), mysql2 against MariaDB (pool, prepared
// statements, transactions) and ioredis (pipelines, MULTI, pub/sub, blocking commands). Each program
// runs many queries at once so that responses arrive out of order; it is recorded once and replayed
// offline (no network at all) several times, and must print the same thing every time. A pair of
// unrecorded runs shows that the output really varies (server-side random() and clock values), so
// the replay check can fail. Changed code that sends a different query must diverge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, record, replay, runPlain, type Run } from './helpers.js';
import { libraryWorkdir, skipUnlessServer, uniqueName } from './network-helpers.js';

const PG_APP = `
import pg from 'pg';
const table = process.env.TABLE;
const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 4 });
await pool.query(\`CREATE TABLE \${table} (id serial PRIMARY KEY, name text NOT NULL, score float8 NOT NULL)\`);
try {
  // Twenty queries through four connections, each sleeping a random time on the server: they
  // complete in an order that differs from run to run.
  const finished = [];
  const rows = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    pool.query('SELECT pg_sleep(random() * 0.03), $1::int AS i, random() AS r', [i]).then((res) => {
      finished.push(i);
      return res.rows[0].r;
    })));
  console.log('finished in order', finished.join(','));
  console.log('random values', rows.map((r) => r.toFixed(6)).join(','));

  // A transaction on one client, then a rollback that must leave nothing behind.
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const name of ['ada', 'grace', 'edsger']) {
      await client.query(\`INSERT INTO \${table} (name, score) VALUES ($1, random())\`, [name]);
    }
    await client.query('COMMIT');
    await client.query('BEGIN');
    await client.query(\`INSERT INTO \${table} (name, score) VALUES ('rolled back', 1)\`);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }

  // A named (prepared) statement, run twice.
  for (const name of ['ada', 'edsger']) {
    const res = await pool.query({ name: 'score-of', text: \`SELECT id, score FROM \${table} WHERE name = $1\`, values: [name] });
    console.log('prepared', name, res.rowCount, res.rows[0].id, res.rows[0].score.toFixed(6));
  }
  const count = await pool.query(\`SELECT count(*)::int AS n, clock_timestamp() AS at FROM \${table}\`);
  console.log('rows', count.rows[0].n, 'at', count.rows[0].at.toISOString());

  // LISTEN/NOTIFY between two connections.
  const listener = await pool.connect();
  const notified = new Promise((resolve) => listener.on('notification', resolve));
  await listener.query(\`LISTEN \${table}\`);
  await pool.query("SELECT pg_notify($1, 'payload ' || floor(random() * 1e9)::text)", [table]);
  const note = await notified;
  console.log('notified on', note.channel === table, note.payload);
  await listener.query(\`UNLISTEN \${table}\`);
  listener.release();
} finally {
  await pool.query(\`DROP TABLE \${table}\`);
  await pool.end();
}
`;

const MYSQL_APP = `
import mysql from 'mysql2/promise';
const table = process.env.TABLE;
const pool = mysql.createPool({ host: '127.0.0.1', port: 3306, user: 'root', database: 'test', connectionLimit: 4 });
await pool.query(\`CREATE TABLE \${table} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, score DOUBLE NOT NULL)\`);
try {
  const finished = [];
  const values = await Promise.all(Array.from({ length: 16 }, (_, i) =>
    pool.query('SELECT SLEEP(RAND() * 0.03) AS s, ? AS i, RAND() AS r', [i]).then(([rows]) => {
      finished.push(i);
      return rows[0].r;
    })));
  console.log('finished in order', finished.join(','));
  console.log('random values', values.map((r) => r.toFixed(6)).join(','));

  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    for (const name of ['ada', 'grace', 'edsger']) {
      await conn.execute(\`INSERT INTO \${table} (name, score) VALUES (?, RAND())\`, [name]);
    }
    await conn.commit();
    await conn.beginTransaction();
    await conn.execute(\`INSERT INTO \${table} (name, score) VALUES ('rolled back', 1)\`);
    await conn.rollback();
  } finally {
    conn.release();
  }
  for (const name of ['grace', 'ada']) {
    const [rows] = await pool.execute(\`SELECT id, score FROM \${table} WHERE name = ?\`, [name]);
    console.log('prepared', name, rows.length, rows[0].id, rows[0].score.toFixed(6));
  }
  const [[count]] = await pool.query(\`SELECT COUNT(*) AS n, NOW(6) AS at FROM \${table}\`);
  console.log('rows', count.n, 'at', count.at.toISOString());
} finally {
  await pool.query(\`DROP TABLE \${table}\`);
  await pool.end();
}
`;

const REDIS_APP = `
import Redis from 'ioredis';
const prefix = process.env.PREFIX;
const redis = new Redis({ host: '127.0.0.1', port: 6379 });
const sub = new Redis({ host: '127.0.0.1', port: 6379 });
const blocker = new Redis({ host: '127.0.0.1', port: 6379 });
try {
  // A pipeline: many commands written at once, replies parsed from a stream of bytes.
  const pipeline = redis.pipeline();
  for (let i = 0; i < 50; i++) pipeline.set(\`\${prefix}:k\${i}\`, String(Math.random()));
  for (let i = 0; i < 50; i++) pipeline.get(\`\${prefix}:k\${i}\`);
  const results = await pipeline.exec();
  console.log('pipeline', results.length, results[50][1].slice(0, 8), results[99][1].slice(0, 8));

  // MULTI/EXEC.
  const [[, n1], [, n2], [, time]] = await redis.multi().incrby(\`\${prefix}:counter\`, 5).incr(\`\${prefix}:counter\`).time().exec();
  console.log('multi', n1, n2, time.length);

  // Pub/sub between two connections.
  await sub.subscribe(\`\${prefix}:chan\`);
  const got = new Promise((resolve) => sub.on('message', (channel, message) => resolve(message)));
  await redis.publish(\`\${prefix}:chan\`, 'hello ' + Math.random().toString(36).slice(2));
  console.log('message', await got);

  // A blocking command, released by a push from another connection after a random delay.
  const popped = blocker.blpop(\`\${prefix}:queue\`, 5);
  setTimeout(() => redis.lpush(\`\${prefix}:queue\`, 'job-' + Date.now()), 10 + Math.random() * 20);
  const [, job] = await popped;
  console.log('blpop', job);

  // Many concurrent commands; their replies come back in order on one connection.
  const values = await Promise.all(Array.from({ length: 20 }, (_, i) => redis.incrbyfloat(\`\${prefix}:float\`, Math.random())));
  console.log('concurrent', values.length, values[19]);
} finally {
  const keys = await redis.keys(\`\${prefix}:*\`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  sub.disconnect();
  blocker.disconnect();
}
`;

interface Case {
  name: string;
  server: [string, number];
  app: string;
  env: () => Record<string, string>;
  /** A changed query for the divergence check: [text in app, replacement]. */
  change: [string, string];
}

const cases: Case[] = [
  {
    name: 'pg (node-postgres): Pool, out-of-order replies, transactions, prepared statements, LISTEN/NOTIFY',
    server: ['PostgreSQL', 5432],
    app: PG_APP,
    env: () => ({ TABLE: uniqueName('retrace_pg') }),
    change: ["'SELECT pg_sleep(random() * 0.03), $1::int AS i, random() AS r'", "'SELECT pg_sleep(random() * 0.03), $1::int AS i, random() AS r, 1 AS changed'"],
  },
  {
    name: 'mysql2 against MariaDB: pool, out-of-order replies, transactions, prepared statements',
    server: ['MariaDB', 3306],
    app: MYSQL_APP,
    env: () => ({ TABLE: uniqueName('retrace_my') }),
    change: ["'SELECT SLEEP(RAND() * 0.03) AS s, ? AS i, RAND() AS r'", "'SELECT SLEEP(RAND() * 0.03) AS s, ? AS i, RAND() AS r, 2 AS changed'"],
  },
  {
    name: 'ioredis: pipelines, MULTI, pub/sub, blocking commands',
    server: ['Redis', 6379],
    app: REDIS_APP,
    env: () => ({ PREFIX: uniqueName('retrace_redis') }),
    change: ['redis.incrbyfloat(`${prefix}:float`', 'redis.incrbyfloat(`${prefix}:changed`'],
  },
];

for (const c of cases) {
  test(c.name, async (t) => {
    const why = await skipUnlessServer(...c.server);
    if (why) return t.skip(why);

    // Unrecorded, twice: the output varies, so equal replays mean something.
    const plain = [0, 1].map(() => {
      const dir = libraryWorkdir({ 'app.mjs': c.app });
      const r = runPlain(dir, ['app.mjs'], { env: c.env() });
      assert.equal(r.status, 0, describeRun(r));
      return r;
    });
    assert.notEqual(plain[0]!.stdout, plain[1]!.stdout, 'two unrecorded runs should print different values');

    const dir = libraryWorkdir({ 'app.mjs': c.app });
    const rec: Run = record(dir, ['node', 'app.mjs'], { env: c.env() });
    assert.equal(rec.status, 0, describeRun(rec));
    for (let i = 0; i < 3; i++) {
      // Another table/prefix name in the replay's environment: the recorded one must win.
      const rep = replay(dir, [], { offline: true, env: c.env() });
      assert.equal(rep.stdout, rec.stdout, `replay ${i + 1}\n${describeRun(rep)}`);
      assert.equal(rep.status, 0, describeRun(rep));
      assert.doesNotMatch(rep.stderr, /retrace: replay diverged|recording ends here/);
    }

    // Changed code: a different query text is a divergence, reported at the program's line.
    const app = path.join(dir, 'app.mjs');
    const source = fs.readFileSync(app, 'utf8');
    assert.ok(source.includes(c.change[0]), 'the change applies');
    fs.writeFileSync(app, source.replace(c.change[0], c.change[1]));
    const changedLine = source.split('\n').findIndex((l) => l.includes(c.change[0])) + 1;
    const diverged = replay(dir, [], { offline: true });
    assert.equal(diverged.status, 86, describeRun(diverged));
    assert.match(diverged.stderr, /^retrace: replay diverged/m);
    assert.match(diverged.stderr, new RegExp(`app\\.mjs:${changedLine}:`), diverged.stderr);
  });
}
