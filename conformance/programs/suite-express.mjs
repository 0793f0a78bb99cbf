import { publicCheckout } from '../lib/public-suite.mjs';
export default {
  kind: 'runner',
  what: "expressjs/express's own mocha suite (supertest on real sockets)",
  version: 'checkout',
  publicSuite: publicCheckout('express', 'node_modules/mocha/bin/mocha.js'),
  command: ['node', 'node_modules/mocha/bin/mocha.js', '--reporter', 'dot', '--check-leaks', 'test/', 'test/acceptance/'],
  timeout: 600_000,
};
