// Key generation and a randomized signature (RSA-PSS), printed.
export default {
  kind: 'cli',
  what: 'crypto.generateKeyPairSync (ed25519) and an RSA-PSS signature, printed as hex',
  files: { 'app.js': "const c = require('node:crypto');\nconst { publicKey } = c.generateKeyPairSync('ed25519');\nconsole.log(publicKey.export({ format: 'der', type: 'spki' }).toString('hex'));\nconst { privateKey } = c.generateKeyPairSync('rsa', { modulusLength: 1024 });\nconsole.log(c.sign('sha256', Buffer.from('x'), { key: privateKey, padding: c.constants.RSA_PKCS1_PSS_PADDING }).toString('hex').slice(0, 32));\n" },
  command: ['node', 'app.js'],
  limit: 'key generation and randomness inside OpenSSL (PSS, OAEP, ECDSA) run live in replay',
};
