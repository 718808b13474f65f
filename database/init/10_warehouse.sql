-- 10: the star schema (warehouse). Safe to run twice.
-- Natural keys are scoped per retailer; surrogate keys are `<object>_key`.
-- Foreign keys on the facts are informational (not enforced: they double the upsert's
-- cost); referential integrity is a quality check.

create table if not exists warehouse.dim_date (
  date_key      integer primary key,            -- yyyymmdd
  full_date     date not null unique,
  year          smallint not null,
  quarter       smallint not null,
  month         smallint not null,
  month_name    text not null,
  day_of_month  smallint not null,
  day_of_week   smallint not null,              -- ISO: 1 = Monday
  day_name      text not null,
  week_of_year  smallint not null,
  is_weekend    boolean not null
);

create table if not exists warehouse.dim_retailer (
  retailer_key  smallint primary key,
  retailer_id   text not null,
  retailer_name text not null,
  currency      char(3) not null,
  timezone      text not null,
  constraint dim_retailer_id_uq unique (retailer_id)
);

insert into warehouse.dim_retailer (retailer_key, retailer_id, retailer_name, currency, timezone)
values (1, 'retailer1', 'Northwind Outfitters', 'USD', 'UTC'),
       (2, 'retailer2', 'Maple & Main', 'USD', 'America/New_York'),
       (3, 'retailer3', 'Euromarché', 'EUR', 'UTC')
on conflict (retailer_key) do nothing;

-- Daily conversion rates to USD (USD itself is 1). Filled in 20_dim_date.sql.
create table if not exists warehouse.fx_rate (
  currency      char(3) not null,
  rate_date     date not null,
  usd_per_unit  numeric(12,6) not null,
  constraint fx_rate_pk primary key (currency, rate_date)
);

-- Stores and channels: type 1 (overwritten in place).
create table if not exists warehouse.dim_store (
  store_key     integer generated always as identity primary key,
  retailer_id   text not null,
  store_id      text not null,
  store_name    text,
  channel       text,                           -- store | web | app | marketplace
  city          text,
  region        text,
  country       text,
  is_inferred   boolean not null default false, -- created by a fact before its record arrived
  run_id        uuid,
  updated_at    timestamptz not null default now(),
  constraint dim_store_nk unique (retailer_id, store_id)
);

-- Customers: SCD type 2 on the tracked attributes (attr_hash).
create table if not exists warehouse.dim_customer (
  customer_key  bigint generated always as identity primary key,
  retailer_id   text not null,
  customer_id   text not null,
  email         text,
  full_name     text,
  city          text,
  region        text,
  country       text,
  valid_from    timestamptz not null,
  valid_to      timestamptz not null default 'infinity',
  is_current    boolean not null default true,
  is_inferred   boolean not null default false,
  attr_hash     text,
  run_id        uuid,
  updated_at    timestamptz not null default now(),
  constraint dim_customer_version_uq unique (retailer_id, customer_id, valid_from),
  constraint dim_customer_validity_ck check (valid_from < valid_to)
);
create unique index if not exists dim_customer_current_uq
  on warehouse.dim_customer (retailer_id, customer_id) where is_current;

-- Products: SCD type 2 (a price change closes the current version and opens a new one).
create table if not exists warehouse.dim_product (
  product_key   bigint generated always as identity primary key,
  retailer_id   text not null,
  product_id    text not null,
  product_name  text,
  category      text,
  list_price    numeric(12,2),
  currency      char(3),
  valid_from    timestamptz not null,
  valid_to      timestamptz not null default 'infinity',
  is_current    boolean not null default true,
  is_inferred   boolean not null default false,
  attr_hash     text,
  run_id        uuid,
  updated_at    timestamptz not null default now(),
  constraint dim_product_version_uq unique (retailer_id, product_id, valid_from),
  constraint dim_product_validity_ck check (valid_from < valid_to)
);
create unique index if not exists dim_product_current_uq
  on warehouse.dim_product (retailer_id, product_id) where is_current;

-- One row per order line.
create table if not exists warehouse.fact_sales (
  retailer_key    smallint not null,
  order_id        text not null,
  line_number     integer not null,
  order_date      date not null,
  order_date_key  integer not null,
  created_at      timestamptz not null,
  customer_key    bigint,
  product_key     bigint,
  store_key       integer,
  quantity        integer not null,
  unit_price      numeric(12,2) not null,
  discount        numeric(12,2) not null default 0,
  line_total      numeric(12,2) not null,
  currency        char(3) not null,
  line_total_usd  numeric(14,2) not null,
  run_id          uuid not null,                -- the run that last wrote this row
  loaded_at       timestamptz not null default now(),
  constraint fact_sales_pk primary key (retailer_key, order_id, line_number)
);
create index if not exists fact_sales_order_date_ix on warehouse.fact_sales (order_date, retailer_key);

-- One row per order: an accumulating snapshot whose milestones fill in as they happen.
create table if not exists warehouse.fact_orders (
  retailer_key    smallint not null,
  order_id        text not null,
  order_date      date not null,
  order_date_key  integer not null,
  customer_key    bigint,
  store_key       integer,
  status          text not null,                -- created|paid|shipped|delivered|canceled|refunded
  created_at      timestamptz not null,
  paid_at         timestamptz,
  shipped_at      timestamptz,
  delivered_at    timestamptz,
  canceled_at     timestamptz,
  refunded_at     timestamptz,
  line_count      integer not null default 0,
  order_total     numeric(12,2),
  order_total_usd numeric(14,2),
  currency        char(3) not null,
  run_id          uuid not null,
  updated_at      timestamptz not null default now(),
  constraint fact_orders_pk primary key (retailer_key, order_id)
);
create index if not exists fact_orders_order_date_ix on warehouse.fact_orders (order_date, retailer_key);
-- The order id as the uniqueness check compares it (case and surrounding blanks ignored):
-- a date's orders are probed against the retailer's whole history through this index, so
-- the check costs the date's orders, not the history's (quality fact_orders_key_unique).
create index if not exists fact_orders_order_key_ix
  on warehouse.fact_orders (retailer_key, (lower(trim(order_id))));
