// A BullMQ queue and worker on Redis: add jobs, process them, close.
export default {
  kind: 'db',
  what: 'BullMQ on Redis: a queue of its own, 3 jobs added, a worker processes them, close',
  packages: { bullmq: '5.63.0' },
  services: ['redis'],
  files: {
    'app.js': `const { Queue, Worker } = require('bullmq');
const connection = { host: '127.0.0.1', port: 6379 };
const name = 'conformance-' + process.env.SUFFIX;
(async () => {
  const queue = new Queue(name, { connection });
  let done = 0;
  const worker = new Worker(name, async (job) => ({ doubled: job.data.n * 2, at: Date.now() > 0 }), { connection });
  worker.on('completed', async (job, result) => {
    console.log('completed', job.name, result.doubled);
    if (++done === 3) { await worker.close(); await queue.obliterate({ force: true }); await queue.close(); console.log('closed'); }
  });
  for (let n = 1; n <= 3; n++) await queue.add('job' + n, { n });
})();
`,
  },
  command: ['node', 'app.js'],
};
