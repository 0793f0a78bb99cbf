// ioredis against Redis: pipeline, pub/sub, a key of its own.
export default {
  kind: 'db',
  what: 'ioredis on Redis 6379: set/get with expiry, a pipeline, pub/sub round trip',
  packages: { ioredis: '5.8.2' },
  services: ['redis'],
  files: {
    'app.js': `const Redis = require('ioredis');
(async () => {
  const k = 'conformance:' + process.env.SUFFIX;
  const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  const sub = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await r.connect(); await sub.connect();
  await r.set(k, 'v' + Date.now() % 10, 'EX', 30);
  console.log('get', (await r.get(k)).length);
  const res = await r.pipeline().incr(k + ':n').incr(k + ':n').del(k, k + ':n').exec();
  console.log('pipeline', JSON.stringify(res));
  await sub.subscribe(k + ':ch');
  sub.on('message', async (ch, m) => { console.log('message', m); await sub.quit(); await r.quit(); console.log('quit'); });
  await r.publish(k + ':ch', 'hi');
})();
`,
  },
  command: ['node', 'app.js'],
};
