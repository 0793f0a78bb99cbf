// The shop's customers for the demo: places a handful of orders one after another and prints
// what the shop answered. It is a separate process and is not recorded.
//
//   node examples/shop/scripts/load.mjs http://127.0.0.1:3000
const base = process.argv[2] ?? 'http://127.0.0.1:3000';

const ORDERS = [
  { items: [{ productId: 1, qty: 2 }] },
  { items: [{ productId: 2, qty: 1 }, { productId: 3, qty: 2 }], coupon: 'SPRING10' },
  { items: [{ productId: 1, qty: 1 }, { productId: 4, qty: 1 }], coupon: 'LOYAL1' },
  { items: [{ productId: 3, qty: 4 }], coupon: 'HALFOFF' },
  { items: [{ productId: 2, qty: 1 }], coupon: 'STAFF25' },
  { items: [{ productId: 1, qty: 2 }, { productId: 3, qty: 1 }], coupon: 'loyal1' },
  { items: [{ productId: 4, qty: 1 }], coupon: 'FREEBIE' },
];

for (const order of ORDERS) {
  const res = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(order),
  });
  const body = await res.json();
  const what = `${order.items.map((i) => `${i.qty}×#${i.productId}`).join(' ')}${order.coupon ? ` with ${order.coupon}` : ''}`;
  console.log(`customer: ${what.padEnd(28)} → ${res.status} ${res.ok ? `order ${body.id}, total ${body.total.toFixed(2)}` : body.error}`);
}
