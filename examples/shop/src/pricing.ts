// Prices an order: line totals, the coupon's discount, the total. Amounts are computed in whole
// cents so that sums do not pick up floating-point dust.

export interface Product {
  id: number;
  name: string;
  price: number;
}

export interface Coupon {
  code: string;
  percent: number;
}

export interface OrderLine {
  productId: number;
  qty: number;
}

export interface PricedOrder {
  subtotal: number;
  discount: number;
  total: number;
}

export class UnknownProductError extends Error {
  constructor(readonly productId: number) {
    super(`no product ${productId}`);
  }
}

function toCents(amount: number): number {
  return Math.round(amount * 100);
}

/**
 * The share of the subtotal a coupon takes off, from 0 to 1. Coupons made with the old admin
 * tool hold a fraction (0.50 is half price); the new tool stores a percentage (10 is 10% off).
 */
export function discountRate(coupon: Coupon): number {
  return coupon.percent > 1 ? coupon.percent / 100 : coupon.percent;
}

export function priceOrder(lines: OrderLine[], products: Map<number, Product>, coupon?: Coupon): PricedOrder {
  let subtotalCents = 0;
  for (const line of lines) {
    const product = products.get(line.productId);
    if (!product) throw new UnknownProductError(line.productId);
    subtotalCents += toCents(product.price) * line.qty;
  }
  const rate = coupon ? discountRate(coupon) : 0;
  const discountCents = Math.round(subtotalCents * rate);
  const totalCents = subtotalCents - discountCents;
  return { subtotal: subtotalCents / 100, discount: discountCents / 100, total: totalCents / 100 };
}
