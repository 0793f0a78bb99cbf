// Workload (c): a Fastify 5 server that calls an upstream HTTP service (UPSTREAM_PORT, run
// unrecorded by the bench) with the global fetch for every request.
import Fastify from 'fastify';

const upstream = `http://127.0.0.1:${process.env.UPSTREAM_PORT}`;
let next = 0;
const app = Fastify();
app.get('/quote', async () => {
  const n = next++;
  const res = await fetch(`${upstream}/price?n=${n}`);
  const { price } = await res.json();
  return { n, price, total: Math.round(price * 1.2 * 100) / 100 };
});
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`READY ${app.server.address().port} ${process.pid}`);
process.on('SIGTERM', async () => {
  await app.close();
  const usage = process.resourceUsage();
  console.log(`RSS ${usage.maxRSS} CPU ${usage.userCPUTime + usage.systemCPUTime}`);
  process.exit(0);
});
