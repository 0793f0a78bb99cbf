// A Fastify 5 API with schema validation, a hook and logging (pino to stdout).
import { requests } from '../lib/http-driver.mjs';
export default {
  kind: 'server',
  what: 'Fastify 5: validated POST, 400 on bad body, GET with params, logger on',
  packages: { fastify: '5.6.2' },
  type: 'module',
  files: {
    'app.js': `import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
const app = Fastify({ logger: { level: 'info' }, genReqId: () => randomUUID() });
const items = new Map();
app.addHook('onRequest', async (req) => { req.startedAt = performance.now(); });
app.post('/items', { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } }, async (req, reply) => {
  const id = items.size + 1; items.set(id, { id, name: req.body.name, created: new Date().toISOString() });
  return reply.code(201).send({ id });
});
app.get('/items/:id', async (req, reply) => items.get(Number(req.params.id)) ?? reply.code(404).send({ error: 'no such item' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', async () => { await app.close(); console.log('closed with', items.size, 'items'); });
`,
  },
  command: ['node', 'app.js'],
  driver: ({ url }) =>
    requests(url, [
      { method: 'POST', path: '/items', body: { name: 'a' } },
      { method: 'POST', path: '/items', body: { nope: 1 } },
      { path: '/items/1', transform: (t) => JSON.parse(t).name },
      { path: '/items/9' },
    ]),
  ci: true,
};
