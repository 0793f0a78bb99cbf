// rollup bundling an ES module graph to stdout.
export default {
  kind: 'cli',
  what: 'rollup src/main.js --format cjs (bundle to stdout, tree-shaken)',
  packages: { rollup: '4.53.3' },
  files: {
    'src/main.js': "import { used } from './lib.js';\nconsole.log(used(2));\n",
    'src/lib.js': 'export const used = (x) => x * 21;\nexport const unused = () => 0;\n',
  },
  command: ['node', 'node_modules/rollup/dist/bin/rollup', 'src/main.js', '--format', 'cjs'],
  ci: true,
};
