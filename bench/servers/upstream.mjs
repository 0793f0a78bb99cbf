// The upstream service of the Fastify workload: never recorded, it stands for another service.
import * as http from 'node:http';

const server = http.createServer((req, res) => {
  const n = Number(new URL(req.url, 'http://upstream').searchParams.get('n'));
  const body = JSON.stringify({ n, price: (n * 37) % 1000 / 10 + 0.5 });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(`READY ${server.address().port} ${process.pid}`));
process.on('SIGTERM', () => process.exit(0));
