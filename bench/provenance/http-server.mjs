// Provenance workload 3: a node:http server taking JSON orders over keep-alive connections and doing
// some computation per request (per-line amounts, a sort, per-category sums in a Map, a checksum
// loop). Prints "READY <port> <pid>" once listening. POST /stop answers, closes the server and its
// idle connections and prints what it served; the process then ends by itself, which ends the
// recording. bench/provenance.mjs asks `retrace why` about `total` in a late request.
import * as http from 'node:http';

const TAX_PERCENT = 8;
let requests = 0;
let connections = 0;

function price(order) {
  const lines = order.items.map((item) => ({ sku: item.sku, category: item.category, amount: item.qty * item.price }));
  lines.sort((a, b) => b.amount - a.amount || (a.sku < b.sku ? -1 : 1));
  const byCategory = new Map();
  for (const line of lines) byCategory.set(line.category, (byCategory.get(line.category) ?? 0) + line.amount);
  let checksum = 0;
  for (let round = 0; round < 20; round++) for (const line of lines) checksum = (checksum * 33 + Math.round(line.amount * 100) + round) % 65521;
  const subtotal = lines.reduce((sum, line) => sum + line.amount, 0);
  const largestCategory = [...byCategory].sort((a, b) => b[1] - a[1])[0];
  const discount = largestCategory[1] > subtotal / 2 ? largestCategory[1] * 0.05 : 0;
  const total = Math.round((subtotal - discount) * (100 + TAX_PERCENT)) / 100;
  return { id: order.id, lines: lines.length, category: largestCategory[0], checksum, total };
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/stop') {
    res.end('stopping\n');
    server.close(() => console.log(`served ${requests} requests on ${connections} connections`));
    server.closeIdleConnections();
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    requests++;
    const answer = price(JSON.parse(body));
    const text = JSON.stringify(answer);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.on('connection', () => connections++);
server.listen(0, '127.0.0.1', () => console.log(`READY ${server.address().port} ${process.pid}`));
