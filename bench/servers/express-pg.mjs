// Workload (b): an Express 5 API on PostgreSQL (127.0.0.1:5432, user postgres, database test), three
// queries per request: a row by key, an aggregate over its category, and an update. The table is
// this process's own, created and seeded at start and dropped at SIGTERM.
import express from 'express';
import pg from 'pg';

const table = `bench_items_${process.pid}`;
const pool = new pg.Pool({
  host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres', database: process.env.PGDATABASE ?? 'test', max: 10,
});
await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, category int NOT NULL, price numeric(10,2) NOT NULL, views int NOT NULL DEFAULT 0)`);
await pool.query(`INSERT INTO ${table} (id, name, category, price) SELECT i, 'item ' || i, i % 10, (i * 7 % 100) + 0.99 FROM generate_series(1, 1000) AS i`);

let next = 0;
const app = express();
app.get('/items/next', async (req, res) => {
  const id = (next++ % 1000) + 1;
  const { rows: [item] } = await pool.query(`SELECT id, name, category, price FROM ${table} WHERE id = $1`, [id]);
  const { rows: [stats] } = await pool.query(`SELECT count(*)::int AS n, avg(price)::float8 AS avg FROM ${table} WHERE category = $1`, [item.category]);
  await pool.query(`UPDATE ${table} SET views = views + 1 WHERE id = $1`, [id]);
  res.json({ item, peers: stats.n, averagePrice: stats.avg });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`READY ${server.address().port} ${process.pid}`));
process.on('SIGTERM', async () => {
  server.close();
  server.closeAllConnections();
  await pool.query(`DROP TABLE ${table}`);
  await pool.end();
  const usage = process.resourceUsage();
  console.log(`RSS ${usage.maxRSS} CPU ${usage.userCPUTime + usage.systemCPUTime}`);
  process.exit(0);
});
