-- 50: the marts, one table per business question, and marts.refresh(dates). Safe to run twice.
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

-- Rebuild every mart for the given order dates (delete + insert per date, one transaction
-- with the caller). Serialized by an advisory lock: the 'ALL' rows of a date are shared by
-- the loads of every retailer, so two refreshes of one date must not interleave.
create or replace function marts.refresh(p_dates date[]) returns void
language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtext('marts.refresh'));
  if p_dates is null or cardinality(p_dates) = 0 then
    return;
  end if;

  -- The orders of the dates, with their retailer and customer natural keys.
  create temp table if not exists mart_orders (
    order_date date, retailer_id text, customer_id text, created_at timestamptz,
    paid_at timestamptz, shipped_at timestamptz, delivered_at timestamptz,
    canceled_at timestamptz, refunded_at timestamptz) on commit drop;
  truncate mart_orders;
  insert into mart_orders
  select o.order_date, r.retailer_id, c.customer_id, o.created_at, o.paid_at, o.shipped_at,
         o.delivered_at, o.canceled_at, o.refunded_at
  from warehouse.fact_orders o
  join warehouse.dim_retailer r on r.retailer_key = o.retailer_key
  left join warehouse.dim_customer c on c.customer_key = o.customer_key
  where o.order_date = any(p_dates);

  -- The lines of the dates, with their product version and their order's outcome.
  -- A line whose order is not loaded counts as neither canceled nor refunded.
  create temp table if not exists mart_lines (
    order_date date, retailer_id text, product_id text, product_valid_from timestamptz,
    category text, quantity integer, line_total_usd numeric(14,2),
    is_canceled boolean, is_refunded boolean) on commit drop;
  truncate mart_lines;
  insert into mart_lines
  select s.order_date, r.retailer_id, p.product_id, p.valid_from,
         coalesce(p.category, '(unknown)'), s.quantity, s.line_total_usd,
         o.canceled_at is not null, o.refunded_at is not null and o.canceled_at is null
  from warehouse.fact_sales s
  join warehouse.dim_retailer r on r.retailer_key = s.retailer_key
  left join warehouse.dim_product p on p.product_key = s.product_key
  left join warehouse.fact_orders o on o.retailer_key = s.retailer_key and o.order_id = s.order_id
  where s.order_date = any(p_dates);
  analyze mart_orders;
  analyze mart_lines;

  delete from marts.daily_orders where order_date = any(p_dates);
  insert into marts.daily_orders (order_date, retailer_id, orders_created, order_lines,
                                  units_sold, customers)
  with o as (
    select order_date, coalesce(retailer_id, 'ALL') as retailer_id, count(*) as orders_created,
           count(distinct (retailer_id, customer_id))
             filter (where customer_id is not null) as customers
    from mart_orders group by grouping sets ((order_date, retailer_id), (order_date))
  ), l as (
    select order_date, coalesce(retailer_id, 'ALL') as retailer_id, count(*) as order_lines,
           sum(quantity) as units_sold
    from mart_lines group by grouping sets ((order_date, retailer_id), (order_date))
  )
  select coalesce(o.order_date, l.order_date), coalesce(o.retailer_id, l.retailer_id),
         coalesce(o.orders_created, 0), coalesce(l.order_lines, 0), coalesce(l.units_sold, 0),
         coalesce(o.customers, 0)
  from o full join l on l.order_date = o.order_date and l.retailer_id = o.retailer_id;

  delete from marts.daily_revenue where order_date = any(p_dates);
  insert into marts.daily_revenue (order_date, retailer_id, gross_revenue_usd,
                                   canceled_revenue_usd, refunded_revenue_usd, net_revenue_usd)
  select order_date, coalesce(retailer_id, 'ALL'), sum(line_total_usd),
         coalesce(sum(line_total_usd) filter (where is_canceled), 0),
         coalesce(sum(line_total_usd) filter (where is_refunded), 0),
         coalesce(sum(line_total_usd) filter (where not is_canceled and not is_refunded), 0)
  from mart_lines group by grouping sets ((order_date, retailer_id), (order_date));

  delete from marts.order_funnel where order_date = any(p_dates);
  insert into marts.order_funnel (order_date, retailer_id, orders_created, orders_paid,
                                  orders_shipped, orders_delivered, conversion_rate)
  select order_date, coalesce(retailer_id, 'ALL'), count(*), count(paid_at),
         count(shipped_at), count(delivered_at), marts.share(count(paid_at), count(*))
  from mart_orders group by grouping sets ((order_date, retailer_id), (order_date));

  delete from marts.product_revenue where order_date = any(p_dates);
  insert into marts.product_revenue (order_date, retailer_id, product_id, product_name,
                                     category, units_sold, order_lines, gross_revenue_usd,
                                     net_revenue_usd, revenue_rank, revenue_rank_all)
  with agg as (
    select order_date, retailer_id, product_id, max(product_valid_from) as latest_version,
           sum(quantity) as units_sold, count(*) as order_lines,
           sum(line_total_usd) as gross,
           coalesce(sum(line_total_usd) filter (where not is_canceled and not is_refunded), 0)
             as net
    from mart_lines group by order_date, retailer_id, product_id
  )
  select a.order_date, a.retailer_id, a.product_id, p.product_name, p.category, a.units_sold,
         a.order_lines, a.gross, a.net,
         rank() over (partition by a.order_date, a.retailer_id order by a.gross desc),
         rank() over (partition by a.order_date order by a.gross desc)
  from agg a
  left join warehouse.dim_product p on p.retailer_id = a.retailer_id
       and p.product_id = a.product_id and p.valid_from = a.latest_version;

  delete from marts.category_revenue where order_date = any(p_dates);
  insert into marts.category_revenue (order_date, retailer_id, category, products, units_sold,
                                      order_lines, gross_revenue_usd, net_revenue_usd,
                                      revenue_share, revenue_rank)
  with agg as (
    select order_date, coalesce(retailer_id, 'ALL') as retailer_id, category,
           count(distinct (retailer_id, product_id)) as products, sum(quantity) as units_sold,
           count(*) as order_lines, sum(line_total_usd) as gross,
           coalesce(sum(line_total_usd) filter (where not is_canceled and not is_refunded), 0)
             as net
    from mart_lines
    group by grouping sets ((order_date, retailer_id, category), (order_date, category))
  )
  select order_date, retailer_id, category, products, units_sold, order_lines, gross, net,
         marts.share(gross, sum(gross) over (partition by order_date, retailer_id)),
         rank() over (partition by order_date, retailer_id order by gross desc)
  from agg;

  delete from marts.order_cancellations where order_date = any(p_dates);
  insert into marts.order_cancellations (order_date, retailer_id, orders_created,
                                         orders_canceled, orders_refunded,
                                         orders_canceled_or_refunded, canceled_share,
                                         refunded_share, canceled_or_refunded_share)
  select order_date, coalesce(retailer_id, 'ALL'), count(*), count(canceled_at),
         count(refunded_at),
         count(*) filter (where canceled_at is not null or refunded_at is not null),
         marts.share(count(canceled_at), count(*)), marts.share(count(refunded_at), count(*)),
         marts.share(count(*) filter (where canceled_at is not null or refunded_at is not null),
                     count(*))
  from mart_orders group by grouping sets ((order_date, retailer_id), (order_date));

  delete from marts.fulfillment_times where order_date = any(p_dates);
  insert into marts.fulfillment_times (
    order_date, retailer_id, orders_created, orders_shipped, orders_delivered,
    created_to_shipped_median_hours, created_to_shipped_p90_hours,
    shipped_to_delivered_median_hours, shipped_to_delivered_p90_hours,
    created_to_delivered_median_hours, created_to_delivered_p90_hours)
  select order_date, coalesce(retailer_id, 'ALL'), count(*), count(shipped_at),
         count(delivered_at),
         round((percentile_cont(0.5) within group (order by marts.hours(created_at, shipped_at)))::numeric, 2),
         round((percentile_cont(0.9) within group (order by marts.hours(created_at, shipped_at)))::numeric, 2),
         round((percentile_cont(0.5) within group (order by marts.hours(shipped_at, delivered_at)))::numeric, 2),
         round((percentile_cont(0.9) within group (order by marts.hours(shipped_at, delivered_at)))::numeric, 2),
         round((percentile_cont(0.5) within group (order by marts.hours(created_at, delivered_at)))::numeric, 2),
         round((percentile_cont(0.9) within group (order by marts.hours(created_at, delivered_at)))::numeric, 2)
  from mart_orders group by grouping sets ((order_date, retailer_id), (order_date));
end
$$;
