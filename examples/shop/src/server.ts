// The shop's HTTP API:
//   POST /orders {items: [{productId, qty}], coupon?}  → 201 the order with its total
//   GET  /orders/:id                                  → the stored order
// It connects to PostgreSQL at DATABASE_URL and listens on PORT (default 3000; 0 picks a free
// port). SIGINT or SIGTERM stops it after the requests in flight.
import express, { type NextFunction, type Request, type Response } from 'express';
import pg from 'pg';
import { getOrder, OrderError, parseOrderRequest, placeOrder } from './orders.js';
import { UnknownProductError } from './pricing.js';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('shop: set DATABASE_URL to a PostgreSQL server (the demo starts an embedded one for you)');
  process.exit(2);
}
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });

const app = express();
app.use(express.json());

app.post('/orders', async (req: Request, res: Response) => {
  const order = await placeOrder(pool, parseOrderRequest(req.body));
  const quantity = order.items.reduce((n, line) => n + line.qty, 0);
  console.log(
    `order ${order.id}: quantity ${quantity}, coupon ${order.coupon ?? '-'}, subtotal ${order.subtotal.toFixed(2)}, ` +
      `discount ${order.discount.toFixed(2)}, total ${order.total.toFixed(2)}`,
  );
  res.status(201).json(order);
});

app.get('/orders/:id', async (req: Request, res: Response) => {
  const order = await getOrder(pool, Number(req.params.id));
  if (!order) {
    res.status(404).json({ error: `no order ${req.params.id}` });
    return;
  }
  res.json(order);
});

app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
  if (err instanceof OrderError || err instanceof UnknownProductError) {
    console.log(`refused: ${err.message}`);
    res.status(400).json({ error: err.message });
    return;
  }
  console.error('shop: request failed:', err);
  res.status(500).json({ error: 'internal error' });
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : process.env.PORT;
  console.log(`shop listening on http://127.0.0.1:${port}`);
});

function shutdown(signal: NodeJS.Signals): void {
  console.log(`shop: ${signal}, finishing the requests in flight`);
  server.close(async () => {
    await pool.end();
    console.log('shop: stopped');
  });
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
