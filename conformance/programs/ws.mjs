// A ws WebSocket server: echo with a counter, broadcast; driven by ws clients.
import { createRequire } from 'node:module';
import * as path from 'node:path';
export default {
  kind: 'server',
  what: 'ws server: 2 clients, echo and broadcast, clean close',
  packages: { ws: '8.18.3' },
  files: {
    'server.js': `const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ port: Number(process.env.PORT), host: '127.0.0.1' });
let n = 0;
wss.on('connection', (ws) => {
  ws.on('message', (m) => {
    n++;
    for (const c of wss.clients) c.send(JSON.stringify({ n, text: String(m), at: Date.now() % 1000 }));
  });
  ws.on('close', () => console.log('client left after', n, 'messages'));
});
wss.on('listening', () => console.log('listening'));
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
`,
  },
  command: ['node', 'server.js'],
  driver: async ({ dir, port }) => {
    const WebSocket = createRequire(path.join(dir, 'package.json'))('ws');
    const open = () => new Promise((res, rej) => { const w = new WebSocket(`ws://127.0.0.1:${port}`); w.on('open', () => res(w)); w.on('error', rej); });
    const a = await open();
    const b = await open();
    const seen = [];
    const got = (w, name) => new Promise((res) => w.once('message', (m) => { seen.push(`${name} ${JSON.parse(m).text}`); res(); }));
    await Promise.all([got(a, 'a'), got(b, 'b'), a.send('hello')]);
    await Promise.all([got(a, 'a'), got(b, 'b'), b.send('world')]);
    a.close(); b.close();
    await new Promise((r) => setTimeout(r, 200));
    return seen.sort().join('\n');
  },
  ci: true,
};
