import { publicCheckout } from '../lib/public-suite.mjs';
export default {
  kind: 'runner',
  what: "brianc/node-postgres's packages/pg integration tests on PostgreSQL",
  version: 'checkout',
  services: ['postgres'],
  env: { PGHOST: '127.0.0.1', PGUSER: 'postgres', PGDATABASE: 'test' },
  publicSuite: publicCheckout('node-postgres', 'packages/pg/test/integration'),
  command: ['node', 'packages/pg/test/integration/client/simple-query-tests.js'],
  timeout: 600_000,
};
