-- 15: what the transformation service keeps beside the star schema. Safe to run twice.
-- Observations make the SCD2 versions independent of the order partitions are loaded in;
-- pending events keep lifecycle events that arrive before their order; the inferred
-- member dates say which marts to refresh when an inferred product is completed.

-- Every distinct customer record received: one row per (retailer_id, customer_id, valid_from).
-- dim_customer's versions are derived from it: consecutive observations with the same
-- tracked attributes (attr_hash) collapse into one version.
create table if not exists warehouse.customer_observation (
  retailer_id   text not null,
  customer_id   text not null,
  valid_from    timestamptz not null,
  email         text,
  full_name     text,
  city          text,
  region        text,
  country       text,
  attr_hash     text not null,
  source_date   date not null,                -- the partition date that delivered it
  run_id        uuid not null,
  loaded_at     timestamptz not null default now(),
  constraint customer_observation_pk primary key (retailer_id, customer_id, valid_from)
);

-- Every distinct product record received, the source of dim_product's versions.
create table if not exists warehouse.product_observation (
  retailer_id   text not null,
  product_id    text not null,
  valid_from    timestamptz not null,
  product_name  text,
  category      text,
  list_price    numeric(12,2),
  currency      char(3),
  attr_hash     text not null,
  source_date   date not null,
  run_id        uuid not null,
  loaded_at     timestamptz not null default now(),
  constraint product_observation_pk primary key (retailer_id, product_id, valid_from)
);

-- Lifecycle events whose order is not in fact_orders yet (its creation day is not loaded):
-- applied to fact_orders, and deleted here, when the order arrives.
create table if not exists warehouse.pending_order_event (
  retailer_key  smallint not null,
  order_id      text not null,
  event_type    text not null,
  occurred_at   timestamptz not null,           -- the earliest occurrence received
  source_date   date not null,
  run_id        uuid not null,
  loaded_at     timestamptz not null default now(),
  constraint pending_order_event_pk primary key (retailer_key, order_id, event_type),
  constraint pending_order_event_type_ck
    check (event_type in ('paid', 'shipped', 'delivered', 'canceled', 'refunded'))
);

-- Order dates of the sales that point at an inferred product: completing the product
-- changes its name and category in the marts of exactly these dates.
create table if not exists warehouse.inferred_product_date (
  product_key   bigint not null,
  order_date    date not null,
  constraint inferred_product_date_pk primary key (product_key, order_date)
);

-- The order lifecycle as a rank: an order's status only moves forward, whatever order
-- its records and events are loaded in.
create or replace function warehouse.order_status_rank(status text) returns integer
language sql immutable parallel safe as $$
  select case status when 'created' then 0 when 'paid' then 1 when 'shipped' then 2
                     when 'delivered' then 3 when 'canceled' then 4 when 'refunded' then 5
                     else -1 end
$$;

-- The further along of two statuses (null-safe).
create or replace function warehouse.order_status_max(a text, b text) returns text
language sql immutable parallel safe as $$
  select case when b is null then a when a is null then b
              when warehouse.order_status_rank(b) > warehouse.order_status_rank(a) then b
              else a end
$$;

-- The status an order has reached given its reported status and its milestones.
create or replace function warehouse.order_status_of(
  status text, paid_at timestamptz, shipped_at timestamptz, delivered_at timestamptz,
  canceled_at timestamptz, refunded_at timestamptz) returns text
language sql immutable parallel safe as $$
  select case when refunded_at is not null then warehouse.order_status_max(status, 'refunded')
              when canceled_at is not null then warehouse.order_status_max(status, 'canceled')
              when delivered_at is not null then warehouse.order_status_max(status, 'delivered')
              when shipped_at is not null then warehouse.order_status_max(status, 'shipped')
              when paid_at is not null then warehouse.order_status_max(status, 'paid')
              else status end
$$;

-- Counts of order lines loaded before their order (its record rejected or not loaded yet):
-- added to fact_orders.line_count, and deleted here, when the order arrives.
create table if not exists warehouse.pending_order_line (
  retailer_key  smallint not null,
  order_id      text not null,
  lines         integer not null,
  source_date   date not null,
  run_id        uuid not null,
  loaded_at     timestamptz not null default now(),
  constraint pending_order_line_pk primary key (retailer_key, order_id)
);
