// A CSV download piped through zlib.createGzip() (fastify/demo's export), read by a client.
import { requests } from '../lib/http-driver.mjs';
export default {
  kind: 'server',
  what: 'node:http CSV export piped through zlib.createGzip(), and a gunzip of a posted body',
  files: {
    'server.js': `const http = require('node:http');
const zlib = require('node:zlib');
const { pipeline, Readable } = require('node:stream');
const server = http.createServer((req, res) => {
  if (req.url === '/export.csv') {
    res.writeHead(200, { 'content-type': 'text/csv', 'content-encoding': 'gzip' });
    const rows = Readable.from((function* () { yield 'id,name\\n'; for (let i = 1; i <= 2000; i++) yield i + ',item ' + i + '\\n'; })());
    pipeline(rows, zlib.createGzip(), res, (err) => console.log('export done', err ? err.message : 'ok', Date.now() > 0));
  } else if (req.url === '/upload') {
    const chunks = [];
    req.pipe(zlib.createGunzip()).on('data', (c) => chunks.push(c)).on('end', () => { const text = Buffer.concat(chunks).toString(); console.log('upload lines', text.split('\\n').length); res.end(String(text.length)); });
  } else { res.statusCode = 404; res.end(); }
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => console.log('closed')));
`,
  },
  command: ['node', 'server.js'],
  driver: async ({ url }) => {
    const { gzipSync } = await import('node:zlib');
    const a = await requests(url, [{ path: '/export.csv', transform: (t) => `${t.length} chars, last line ${t.trim().split('\n').at(-1)}` }]);
    const res = await fetch(url + '/upload', { method: 'POST', body: gzipSync('x\n'.repeat(5000)) });
    return `${a}\nPOST /upload ${res.status} ${await res.text()}`;
  },
  ci: true,
};
