// A socket.io server driven by a socket.io client: connect, emit with ack, broadcast, disconnect.
import { createRequire } from 'node:module';
import * as path from 'node:path';
export default {
  kind: 'server',
  what: 'socket.io 4 server: a client connects (polling, then websocket upgrade), emits with ack, leaves',
  packages: { 'socket.io': '4.8.1', 'socket.io-client': '4.8.1' },
  files: {
    'server.js': `const { Server } = require('socket.io');
const io = new Server(Number(process.env.PORT));
let n = 0;
io.on('connection', (socket) => {
  socket.on('add', (a, b, ack) => { n++; ack(a + b); io.emit('count', n); });
  socket.on('disconnect', (why) => console.log('left', why, n));
});
process.on('SIGTERM', () => io.close(() => console.log('closed')));
`,
  },
  command: ['node', 'server.js'],
  driver: async ({ dir, port }) => {
    const { io } = createRequire(path.join(dir, 'package.json'))('socket.io-client');
    const s = io(`http://127.0.0.1:${port}`);
    await new Promise((r) => s.on('connect', r));
    const counts = [];
    s.on('count', (c) => counts.push(c));
    const sum = await new Promise((r) => s.emit('add', 2, 3, r));
    await new Promise((r) => setTimeout(r, 200));
    s.disconnect();
    await new Promise((r) => setTimeout(r, 200));
    return `sum ${sum} counts ${counts.join(',')}`;
  },
};
