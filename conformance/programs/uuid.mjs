// uuid's CLI: random v4 and time-based v7 identifiers (randomness and the clock).
export default {
  kind: 'cli',
  what: 'uuid v7 (a clock- and random-based id)',
  packages: { uuid: '11.1.0' },
  command: ['node', 'node_modules/uuid/dist/esm/bin/uuid', 'v7'],
  ci: true,
};
