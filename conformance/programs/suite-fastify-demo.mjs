import { publicCheckout } from '../lib/public-suite.mjs';
export default {
  kind: 'runner',
  what: "fastify/demo's tsx --test suite (needs its MySQL schema)",
  version: 'checkout',
  services: ['mariadb'],
  publicSuite: publicCheckout('fastify-demo', 'node_modules/tsx'),
  command: ['node', '--import', 'tsx', '--test', 'test/**/*.ts'],
  timeout: 600_000,
};
