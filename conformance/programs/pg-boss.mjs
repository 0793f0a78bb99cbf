// A pg-boss worker on PostgreSQL: a schema of its own, send, work, stop.
export default {
  kind: 'db',
  what: 'pg-boss on PostgreSQL: own schema, create queue, send 2 jobs, work them, stop',
  packages: { 'pg-boss': '10.3.3' },
  services: ['postgres'],
  files: {
    'app.js': `const PgBoss = require('pg-boss');
(async () => {
  const schema = 'boss_' + process.env.SUFFIX;
  const boss = new PgBoss({ connectionString: 'postgres://postgres@127.0.0.1:5432/test', schema });
  boss.on('error', (e) => console.log('error', e.message));
  await boss.start();
  const q = 'q' + process.env.SUFFIX;
  await boss.createQueue(q);
  await boss.send(q, { n: 1 }); await boss.send(q, { n: 2 });
  let seen = 0;
  await boss.work(q, { pollingIntervalSeconds: 0.5, batchSize: 2 }, async (jobs) => {
    for (const j of jobs) console.log('job', j.data.n);
    seen += jobs.length;
    if (seen >= 2) setTimeout(async () => { await boss.stop({ graceful: true, wait: true }); const { Client } = require('pg'); const c = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' }); await c.connect(); await c.query('DROP SCHEMA ' + schema + ' CASCADE'); await c.end(); console.log('stopped'); }, 10);
  });
})();
`,
  },
  command: ['node', 'app.js'],
};
