// Provenance workload 2 (CPU-heavy): orders read as one JSON file, priced through map/reduce, summed
// per customer in a Map and ranked with sort. bench/provenance.mjs asks `retrace why` where the top
// customer's total came from (the last line), so the whole run is instrumented.
//
//   node bench/provenance/orders.mjs ORDERS.json      (bench/provenance.mjs writes the file)
import * as fs from 'node:fs';

const orders = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

const priced = orders.map((order) => {
  const subtotal = order.items.reduce((sum, item) => sum + item.qty * item.price, 0);
  const discount = order.coupon ? (subtotal * order.coupon) / 100 : 0;
  return { customer: order.customer, total: Math.round((subtotal - discount) * 100) / 100 };
});

const byCustomer = new Map();
for (const p of priced) byCustomer.set(p.customer, (byCustomer.get(p.customer) ?? 0) + p.total);

const ranking = [...byCustomer].map((entry) => ({ customer: entry[0], total: entry[1] })).sort((a, b) => b.total - a.total || (a.customer < b.customer ? -1 : 1));
const top = ranking[0];
console.log(`${orders.length} orders, ${byCustomer.size} customers, top ${top.customer} with ${top.total.toFixed(2)}`);
