// eslint with a flat config on files with problems: exit 1 and the report.
export default {
  kind: 'cli',
  what: 'eslint src with a flat config (3 problems, exit 1)',
  packages: { eslint: '9.39.1' },
  type: 'module',
  files: {
    'eslint.config.js': "export default [{ files: ['**/*.js'], rules: { 'no-unused-vars': 'error', 'no-undef': 'error', eqeqeq: 'warn' }, languageOptions: { globals: { console: 'readonly' } } }];\n",
    'src/a.js': 'const unused = 1;\nif (x == 2) console.log(x);\n',
    'src/b.js': 'export const ok = (a) => a + 1;\n',
  },
  command: ['node', 'node_modules/eslint/bin/eslint.js', 'src'],
  ci: true,
};
