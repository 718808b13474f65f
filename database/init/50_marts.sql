-- 50: the marts, one table per business question, and the helpers their models use (each
-- mart's rows are defined by one select in database/marts/<mart>.sql). Safe to run twice.
-- Every table has one row per order_date and retailer_id, plus a row with retailer_id 'ALL'
-- (every retailer together), except product_revenue (product ids are scoped per retailer:
-- it ranks products across retailers instead). order_date is the UTC day the orders were
-- created: later lifecycle changes (a refund three days on) update the day of the order.
-- Money is USD (fact_sales.line_total_usd, converted at the rate of the order's day).
-- Column by column in docs/warehouse.md.

-- Q1: how many orders are created per day?
create table if not exists marts.daily_orders (
  order_date      date not null,
  retailer_id     text not null,
  orders_created  integer not null,
  order_lines     integer not null,
  units_sold      bigint not null,
  customers       integer not null,
  refreshed_at    timestamptz not null default now(),
  constraint daily_orders_pk primary key (order_date, retailer_id)
);

-- Q2: gross revenue, and net of cancellations and refunds.
create table if not exists marts.daily_revenue (
  order_date            date not null,
  retailer_id           text not null,
  gross_revenue_usd     numeric(16,2) not null,
  canceled_revenue_usd  numeric(16,2) not null,
  refunded_revenue_usd  numeric(16,2) not null,
  net_revenue_usd       numeric(16,2) not null,
  refreshed_at          timestamptz not null default now(),
  constraint daily_revenue_pk primary key (order_date, retailer_id)
);

-- Q3: conversion of created orders to paid ones (and on to shipped and delivered).
create table if not exists marts.order_funnel (
  order_date        date not null,
  retailer_id       text not null,
  orders_created    integer not null,
  orders_paid       integer not null,
  orders_shipped    integer not null,
  orders_delivered  integer not null,
  conversion_rate   numeric(7,4),
  refreshed_at      timestamptz not null default now(),
  constraint order_funnel_pk primary key (order_date, retailer_id)
);

-- Q4a: products by revenue.
create table if not exists marts.product_revenue (
  order_date         date not null,
  retailer_id        text not null,
  product_id         text not null,
  product_name       text,
  category           text,
  units_sold         bigint not null,
  order_lines        integer not null,
  gross_revenue_usd  numeric(16,2) not null,
  net_revenue_usd    numeric(16,2) not null,
  revenue_rank       integer not null,
  revenue_rank_all   integer not null,
  refreshed_at       timestamptz not null default now(),
  constraint product_revenue_pk primary key (order_date, retailer_id, product_id)
);

-- Q4b: categories by revenue.
create table if not exists marts.category_revenue (
  order_date         date not null,
  retailer_id        text not null,
  category           text not null,
  products           integer not null,
  units_sold         bigint not null,
  order_lines        integer not null,
  gross_revenue_usd  numeric(16,2) not null,
  net_revenue_usd    numeric(16,2) not null,
  revenue_share      numeric(7,4),
  revenue_rank       integer not null,
  refreshed_at       timestamptz not null default now(),
  constraint category_revenue_pk primary key (order_date, retailer_id, category)
);

-- Q5: shares of orders canceled or refunded.
create table if not exists marts.order_cancellations (
  order_date                   date not null,
  retailer_id                  text not null,
  orders_created               integer not null,
  orders_canceled              integer not null,
  orders_refunded              integer not null,
  orders_canceled_or_refunded  integer not null,
  canceled_share               numeric(7,4),
  refunded_share               numeric(7,4),
  canceled_or_refunded_share   numeric(7,4),
  refreshed_at                 timestamptz not null default now(),
  constraint order_cancellations_pk primary key (order_date, retailer_id)
);

-- Q6: created -> shipped -> delivered, median and p90 in hours.
create table if not exists marts.fulfillment_times (
  order_date                          date not null,
  retailer_id                         text not null,
  orders_created                      integer not null,
  orders_shipped                      integer not null,
  orders_delivered                    integer not null,
  created_to_shipped_median_hours     numeric(10,2),
  created_to_shipped_p90_hours        numeric(10,2),
  shipped_to_delivered_median_hours   numeric(10,2),
  shipped_to_delivered_p90_hours      numeric(10,2),
  created_to_delivered_median_hours   numeric(10,2),
  created_to_delivered_p90_hours      numeric(10,2),
  refreshed_at                        timestamptz not null default now(),
  constraint fulfillment_times_pk primary key (order_date, retailer_id)
);

-- A share with four places; null when there is nothing to divide by.
create or replace function marts.share(part numeric, whole numeric) returns numeric
language sql immutable parallel safe as $$
  select case when whole is null or whole = 0 then null else round(part / whole, 4) end
$$;

-- Hours between two instants, for the duration percentiles.
create or replace function marts.hours(from_at timestamptz, to_at timestamptz)
returns double precision language sql immutable parallel safe as $$
  select extract(epoch from (to_at - from_at))::double precision / 3600.0
$$;

-- Hours with two places (the durations' percentiles).
create or replace function marts.round_hours(hours double precision) returns numeric
language sql immutable parallel safe as $$
  select round(hours::numeric, 2)
$$;

-- The refresh was a plpgsql function here; each mart is now a SQL model of its own
-- (database/marts/<mart>.sql), run by services/transformation/marts.py.
drop function if exists marts.refresh(date[]);
drop function if exists marts.refresh(date[], text[]);
