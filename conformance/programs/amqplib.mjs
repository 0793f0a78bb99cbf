// amqplib against RabbitMQ: a queue of its own, send, consume, ack, close.
export default {
  kind: 'broker',
  what: 'amqplib on RabbitMQ 5672: assert queue, send 3, consume and ack, delete',
  packages: { amqplib: '0.10.9' },
  services: ['rabbitmq'],
  files: {
    'app.js': `const amqp = require('amqplib');
(async () => {
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  const ch = await conn.createChannel();
  const q = 'conformance-' + process.env.SUFFIX;
  await ch.assertQueue(q, { autoDelete: false });
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from('job ' + i));
  let n = 0;
  await ch.consume(q, async (msg) => {
    console.log('got', msg.content.toString());
    ch.ack(msg);
    if (++n === 3) { await ch.deleteQueue(q); await ch.close(); await conn.close(); console.log('closed'); }
  });
})();
`,
  },
  command: ['node', 'app.js'],
};
