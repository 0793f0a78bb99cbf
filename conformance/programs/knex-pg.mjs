// knex migrations and queries on PostgreSQL (a table of its own per run).
export default {
  kind: 'db',
  what: 'knex on PostgreSQL: migrate (create table), insert, select with a join-free query, rollback',
  packages: { knex: '3.1.0', pg: '8.16.3' },
  services: ['postgres'],
  files: {
    'knexfile.js': "module.exports = { client: 'pg', connection: { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' }, migrations: { tableName: 'knex_migrations_' + process.env.SUFFIX } };\n",
    'migrations/001_items.js': "const t = 'items_' + process.env.SUFFIX;\nexports.up = (knex) => knex.schema.createTable(t, (tb) => { tb.increments('id'); tb.string('name'); tb.timestamp('created').defaultTo(knex.fn.now()); });\nexports.down = (knex) => knex.schema.dropTable(t);\n",
    'app.js': `const knex = require('knex')(require('./knexfile'));
const t = 'items_' + process.env.SUFFIX;
(async () => {
  const [batch, done] = await knex.migrate.latest();
  console.log('migrated batch', batch, done.length);
  await knex(t).insert([{ name: 'a' }, { name: 'b' }]);
  const rows = await knex(t).select('id', 'name', 'created').orderBy('id');
  console.log(rows.map((r) => r.id + ':' + r.name + ':' + (r.created instanceof Date)).join(' '), rows[0].created.toISOString());
  await knex.migrate.rollback();
  await knex.schema.dropTableIfExists('knex_migrations_' + process.env.SUFFIX);
  await knex.schema.dropTableIfExists('knex_migrations_' + process.env.SUFFIX + '_lock');
  await knex.destroy();
})();
`,
  },
  command: ['node', 'app.js'],
  ci: false,
};
