-- The shop's tables and a small catalogue. Run by the embedded database at start, or by the demo
-- against the server DATABASE_URL names (it replaces these three tables there).
DROP TABLE IF EXISTS shop_orders;
DROP TABLE IF EXISTS shop_coupons;
DROP TABLE IF EXISTS shop_products;

CREATE TABLE shop_products (
  id    integer PRIMARY KEY,
  name  text NOT NULL,
  price numeric(10, 2) NOT NULL
);

-- Coupons from the old admin tool were entered as fractions (0.50 = half price); the new tool
-- asks for a percentage (10 = 10% off). Both kinds are in the table.
CREATE TABLE shop_coupons (
  code    text PRIMARY KEY,
  percent numeric(6, 2) NOT NULL
);

CREATE TABLE shop_orders (
  id       serial PRIMARY KEY,
  items    jsonb NOT NULL,
  coupon   text,
  subtotal numeric(10, 2) NOT NULL,
  discount numeric(10, 2) NOT NULL,
  total    numeric(10, 2) NOT NULL,
  placed   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO shop_products (id, name, price) VALUES
  (1, 'espresso beans 1kg', 24.90),
  (2, 'milk frother', 39.00),
  (3, 'ceramic cup', 7.50),
  (4, 'descaler', 11.25);

INSERT INTO shop_coupons (code, percent) VALUES
  ('HALFOFF', 0.50),
  ('SPRING10', 10),
  ('LOYAL1', 1),
  ('STAFF25', 25);
