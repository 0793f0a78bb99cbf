// Workload (a): a minimal node:http server. Prints "READY <port> <pid>" once listening; on SIGTERM
// closes, prints "RSS <peak resident set in KiB> CPU <user+system microseconds>" and exits.
import * as http from 'node:http';

const body = JSON.stringify({ hello: 'world' });
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(`READY ${server.address().port} ${process.pid}`));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  const usage = process.resourceUsage();
  console.log(`RSS ${usage.maxRSS} CPU ${usage.userCPUTime + usage.systemCPUTime}`);
  process.exit(0);
});
