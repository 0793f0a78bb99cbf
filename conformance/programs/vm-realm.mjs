// Code run in another realm (vm.runInNewContext): its own Date and Math.random.
export default {
  kind: 'cli',
  what: 'vm.runInNewContext reading Date.now() and Math.random() of the new realm',
  files: { 'app.js': "const vm = require('node:vm');\nconsole.log(vm.runInNewContext('[Date.now(), Math.random(), new Date().toISOString()].join(\" \")'));\n" },
  command: ['node', 'app.js'],
  ci: true,
};
