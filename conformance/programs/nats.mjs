// nats.js with JetStream: a stream of its own, publish, consume, delete.
export default {
  kind: 'broker',
  what: 'nats 2 on NATS 4222 with JetStream: add stream, publish 3, fetch and ack, delete',
  packages: { nats: '2.29.3' },
  services: ['nats'],
  files: {
    'app.js': `const { connect, StringCodec, AckPolicy } = require('nats');
(async () => {
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const sc = StringCodec();
  const name = 'S' + process.env.SUFFIX;
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name, subjects: [name + '.>'] });
  const js = nc.jetstream();
  for (let i = 0; i < 3; i++) { const ack = await js.publish(name + '.x', sc.encode('m' + i)); console.log('stored', ack.seq); }
  await jsm.consumers.add(name, { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get(name, 'c');
  const msgs = await c.fetch({ max_messages: 3, expires: 2000 });
  for await (const m of msgs) { console.log('got', sc.decode(m.data)); m.ack(); }
  await jsm.streams.delete(name);
  await nc.close();
  console.log('closed');
})();
`,
  },
  command: ['node', 'app.js'],
};
