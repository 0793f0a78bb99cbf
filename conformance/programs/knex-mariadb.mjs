// knex migrations and queries on MariaDB through mysql2.
export default {
  kind: 'db',
  what: 'knex on MariaDB (mysql2): migrate, insert, select, rollback',
  packages: { knex: '3.1.0', mysql2: '3.15.3' },
  services: ['mariadb'],
  files: {
    'app.js': `const s = process.env.SUFFIX;
const knex = require('knex')({ client: 'mysql2', connection: { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' }, migrations: { tableName: 'km_' + s, directory: './migrations' } });
const t = 'items_' + s;
(async () => {
  const [batch, done] = await knex.migrate.latest();
  console.log('migrated batch', batch, done.length);
  await knex(t).insert([{ name: 'x' }, { name: 'y' }]);
  console.log(JSON.stringify(await knex(t).select('id', 'name').orderBy('id')));
  await knex.migrate.rollback();
  await knex.schema.dropTableIfExists('km_' + s);
  await knex.schema.dropTableIfExists('km_' + s + '_lock');
  await knex.destroy();
})();
`,
    'migrations/001_items.js': "const t = 'items_' + process.env.SUFFIX;\nexports.up = (knex) => knex.schema.createTable(t, (tb) => { tb.increments('id'); tb.string('name'); });\nexports.down = (knex) => knex.schema.dropTable(t);\n",
  },
  command: ['node', 'app.js'],
};
