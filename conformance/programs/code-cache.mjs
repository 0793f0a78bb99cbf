// V8 code cache: vm.Script#createCachedData bytes written to a file (v8-compile-cache, ts-node).
export default {
  kind: 'cli',
  what: 'vm.Script#createCachedData written to a file and its length printed',
  files: { 'app.js': "const vm = require('node:vm'); const fs = require('node:fs');\nconst s = new vm.Script('function f(x) { return x * 2 } f(21)', { filename: 'cached.js' });\ns.runInThisContext();\nconst data = s.createCachedData();\nfs.writeFileSync('cache.bin', data);\nconsole.log('cache', data.length > 0);\n" },
  clean: ['cache.bin'],
  command: ['node', 'app.js'],
  limit: 'V8 code cache bytes differ run to run; writing them is checked byte for byte',
};
