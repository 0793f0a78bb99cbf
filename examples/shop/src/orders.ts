// Orders: checks a request, loads the products and the coupon, prices the order and stores it.
import type { Pool } from 'pg';
import { priceOrder, type Coupon, type OrderLine, type PricedOrder, type Product } from './pricing.js';

export interface OrderRequest {
  items: OrderLine[];
  coupon?: string;
}

export interface Order extends PricedOrder {
  id: number;
  items: OrderLine[];
  coupon: string | null;
  placed: string;
}

/** A request the shop refuses: answered with 400 and the message. */
export class OrderError extends Error {}

export function parseOrderRequest(body: unknown): OrderRequest {
  const { items, coupon } = (body ?? {}) as { items?: unknown; coupon?: unknown };
  if (!Array.isArray(items) || items.length === 0) throw new OrderError('items must be a non-empty list');
  const lines = items.map((item: { productId?: unknown; qty?: unknown }) => {
    if (!Number.isInteger(item?.productId) || !Number.isInteger(item?.qty) || (item.qty as number) < 1) {
      throw new OrderError('each item needs an integer productId and a positive integer qty');
    }
    return { productId: item.productId as number, qty: item.qty as number };
  });
  if (coupon !== undefined && typeof coupon !== 'string') throw new OrderError('coupon must be a string');
  return { items: lines, coupon };
}

async function loadProducts(db: Pool, ids: number[]): Promise<Map<number, Product>> {
  const { rows } = await db.query<{ id: number; name: string; price: string }>(
    'SELECT id, name, price FROM shop_products WHERE id = ANY($1::int[])',
    [ids],
  );
  // node-postgres returns numeric columns as strings, to keep their precision.
  return new Map(rows.map((r) => [r.id, { id: r.id, name: r.name, price: Number(r.price) }]));
}

async function findCoupon(db: Pool, code: string): Promise<Coupon | undefined> {
  const { rows } = await db.query<{ code: string; percent: string }>('SELECT code, percent FROM shop_coupons WHERE code = $1', [
    code.toUpperCase(),
  ]);
  return rows[0] && { code: rows[0].code, percent: Number(rows[0].percent) };
}

export async function placeOrder(db: Pool, request: OrderRequest): Promise<Order> {
  const products = await loadProducts(db, [...new Set(request.items.map((i) => i.productId))]);
  const coupon = request.coupon === undefined ? undefined : await findCoupon(db, request.coupon);
  if (request.coupon !== undefined && !coupon) throw new OrderError(`unknown coupon ${request.coupon}`);
  const priced = priceOrder(request.items, products, coupon);
  const { rows } = await db.query<{ id: number; placed: Date }>(
    `INSERT INTO shop_orders (items, coupon, subtotal, discount, total)
     VALUES ($1, $2, $3, $4, $5) RETURNING id, placed`,
    [JSON.stringify(request.items), coupon?.code ?? null, priced.subtotal, priced.discount, priced.total],
  );
  const row = rows[0]!;
  return { id: row.id, items: request.items, coupon: coupon?.code ?? null, ...priced, placed: row.placed.toISOString() };
}

export async function getOrder(db: Pool, id: number): Promise<Order | undefined> {
  const { rows } = await db.query<{
    id: number;
    items: OrderLine[];
    coupon: string | null;
    subtotal: string;
    discount: string;
    total: string;
    placed: Date;
  }>('SELECT id, items, coupon, subtotal, discount, total, placed FROM shop_orders WHERE id = $1', [id]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    items: row.items,
    coupon: row.coupon,
    subtotal: Number(row.subtotal),
    discount: Number(row.discount),
    total: Number(row.total),
    placed: row.placed.toISOString(),
  };
}
