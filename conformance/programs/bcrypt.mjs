// Native bcrypt: hash and compare on the thread pool (an N-API addon).
export default {
  kind: 'cli',
  what: 'bcrypt (native addon) hash, compare and genSalt',
  packages: { bcrypt: '6.0.0' },
  installScripts: true,
  files: { 'app.js': "const bcrypt = require('bcrypt');\nbcrypt.hash('pw', 6).then(async (h) => { console.log(h); console.log(await bcrypt.compare('pw', h)); });\n" },
  command: ['node', 'app.js'],
  ci: true,
};
