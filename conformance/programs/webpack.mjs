// webpack 5 bundling a small graph in production mode (terser, hashing).
export default {
  kind: 'cli',
  what: 'webpack --mode production on 2 modules (bundle written to dist/, stats on stdout)',
  packages: { webpack: '5.102.1', 'webpack-cli': '6.0.1' },
  files: {
    'src/index.js': "import { greet } from './greet.js';\nconsole.log(greet('conformance'));\n",
    'src/greet.js': "export const greet = (n) => 'hello ' + n;\nexport const unused = () => 1;\n",
  },
  clean: ['dist'],
  command: ['node', 'node_modules/webpack-cli/bin/cli.js', '--mode', 'production', '--no-stats-colors', '--stats', 'errors-warnings'],
};
