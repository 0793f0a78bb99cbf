import { publicCheckout } from '../lib/public-suite.mjs';
export default {
  kind: 'runner',
  what: "redis/ioredis's functional tests (mocha under ts-node) on Redis",
  version: 'checkout',
  services: ['redis'],
  publicSuite: publicCheckout('ioredis', 'node_modules/mocha/bin/mocha.js'),
  command: ['node', 'node_modules/mocha/bin/mocha.js', 'test/functional/**/*.ts'],
  timeout: 600_000,
};
