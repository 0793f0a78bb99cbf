// Express 5 with its default error pages (development: the page carries err.stack).
import { requests } from '../lib/http-driver.mjs';
export default {
  kind: 'server',
  what: 'Express 5: JSON route, 404 page, thrown error (default error page with the stack)',
  packages: { express: '5.1.0' },
  files: {
    'app.js': `const express = require('express');
const app = express();
app.use(express.json());
let hits = 0;
app.get('/hello', (req, res) => res.json({ hello: 'world', hits: ++hits, at: Date.now() }));
app.post('/echo', (req, res) => res.json(req.body));
app.get('/boom', () => { throw new Error('boom at ' + hits); });
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => { console.log('closed after', hits, 'hits'); }));
`,
  },
  env: { NODE_ENV: 'development' },
  command: ['node', 'app.js'],
  driver: ({ url }) =>
    requests(url, [
      { path: '/hello', ignoreBody: true },
      { method: 'POST', path: '/echo', body: { a: [1, 2] } },
      { path: '/missing' },
      { path: '/boom', ignoreBody: true },
    ]),
};
