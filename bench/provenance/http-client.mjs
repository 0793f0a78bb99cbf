// The unrecorded client of provenance workload 3: REQUESTS JSON orders (default 200) over
// CONNECTIONS keep-alive connections (default 8), each connection sending its next request when
// the previous answer came, then POST /stop. Orders are made from the request number alone, so every
// run sends the same bodies. Prints "DONE <requests> <errors>".
//
//   node bench/provenance/http-client.mjs http://127.0.0.1:PORT
import * as http from 'node:http';

const base = new URL(process.argv[2]);
const total = Number(process.env.REQUESTS ?? 200);
const connections = Number(process.env.CONNECTIONS ?? 8);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const categories = ['books', 'games', 'garden', 'kitchen', 'tools'];

function order(n) {
  const items = [];
  for (let i = 0; i < 30; i++) {
    const k = (n * 7919 + i * 104729) % 1000;
    items.push({ sku: `SKU-${k}`, category: categories[k % categories.length], qty: 1 + (k % 4), price: Math.round(100 + k * 3.7) / 100 });
  }
  return { id: n, customer: `c${n % 37}`, items };
}

function post(path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let next = 1;
let errors = 0;
async function connection() {
  while (next <= total) {
    const n = next++;
    const r = await post('/orders', JSON.stringify(order(n)));
    if (r.status !== 200) errors++;
  }
}
await Promise.all(Array.from({ length: connections }, connection));
await post('/stop', '');
agent.destroy();
console.log(`DONE ${total} ${errors}`);
