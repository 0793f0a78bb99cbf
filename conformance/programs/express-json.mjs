// axios calling an Express API that the program itself serves (client and server in one process).
export default {
  kind: 'cli',
  what: 'an Express API and axios calls to it in one process (GET, POST, 404, timeout header)',
  packages: { express: '5.1.0', axios: '1.13.2' },
  files: {
    'app.js': `const express = require('express');
const axios = require('axios');
const app = express();
app.use(express.json());
app.get('/time', (req, res) => res.json({ now: Date.now(), rnd: Math.random() }));
app.post('/sum', (req, res) => res.json({ sum: req.body.a + req.body.b }));
const server = app.listen(0, '127.0.0.1', async () => {
  const base = 'http://127.0.0.1:' + server.address().port;
  const t = await axios.get(base + '/time');
  console.log('time', t.data.now, t.data.rnd);
  console.log('sum', (await axios.post(base + '/sum', { a: 2, b: 40 })).data.sum);
  try { await axios.get(base + '/nope'); } catch (e) { console.log('status', e.response.status); }
  server.close(() => console.log('closed'));
});
`,
  },
  command: ['node', 'app.js'],
  ci: true,
};
