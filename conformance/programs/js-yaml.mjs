// js-yaml's CLI: YAML to JSON.
export default {
  kind: 'cli',
  what: 'js-yaml config.yml (YAML to JSON on stdout)',
  packages: { 'js-yaml': '4.1.1' },
  files: { 'config.yml': 'name: demo\nitems:\n  - a\n  - b: 2\nnested: { x: 1, y: [true, null] }\n' },
  command: ['node', 'node_modules/js-yaml/bin/js-yaml.js', 'config.yml'],
  ci: true,
};
