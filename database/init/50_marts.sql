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

-- Hours with two places (the durations' percentiles).
create or replace function marts.round_hours(hours double precision) returns numeric
language sql immutable parallel safe as $$
  select round(hours::numeric, 2)
$$;

-- Rebuild the marts for the given order dates (delete + insert per date, in the caller's
-- transaction). p_retailers: whose rows to rebuild (default: every retailer); the 'ALL'
-- rows are rebuilt from the retailers' rows (counts, sums, distinct retailer-scoped keys
-- add up), except the 'ALL' duration percentiles, taken from every retailer's orders.
-- Serialized by an advisory lock: the 'ALL' rows of a date are shared by the loads of
-- every retailer, so two refreshes must not interleave.
drop function if exists marts.refresh(date[]);
create or replace function marts.refresh(p_dates date[], p_retailers text[] default null)
returns void language plpgsql as $$
declare
  v_keys smallint[];
  v_ids text[];
  v_enable_sort text;
  v_enable_nestloop text;
begin
  perform pg_advisory_xact_lock(hashtext('marts.refresh'));
  -- JIT compiles longer than these aggregates run.
  perform set_config('jit', 'off', true);
  if p_dates is null or cardinality(p_dates) = 0 then
    return;
  end if;
  select array_agg(retailer_key), array_agg(retailer_id) into v_keys, v_ids
  from warehouse.dim_retailer where p_retailers is null or retailer_id = any(p_retailers);

  -- The retailers' orders of the dates, with the customer's natural key.
  create temp table if not exists mart_orders (
    order_date date, retailer_key smallint, retailer_id text, order_id text,
    customer_id text, created_at timestamptz, paid_at timestamptz, shipped_at timestamptz,
    delivered_at timestamptz, canceled_at timestamptz, refunded_at timestamptz
  ) on commit drop;
  truncate mart_orders;
  -- A load refreshes the marts in its own transaction, right after writing the dates'
  -- facts, which the planner's statistics do not count yet. Expecting a handful of rows, it
  -- joined 111k orders to their customers one index probe at a time and sorted 333k lines
  -- to group them (1.0 s in all); hashing both takes 0.4 s. So the two statements that
  -- read the dates' facts are planned without nested loops and sorts.
  v_enable_sort := current_setting('enable_sort');
  v_enable_nestloop := current_setting('enable_nestloop');
  perform set_config('enable_sort', 'off', true);
  perform set_config('enable_nestloop', 'off', true);
  insert into mart_orders
  select o.order_date, o.retailer_key, r.retailer_id, o.order_id, c.customer_id, o.created_at,
         o.paid_at, o.shipped_at, o.delivered_at, o.canceled_at, o.refunded_at
  from warehouse.fact_orders o
  join warehouse.dim_retailer r on r.retailer_key = o.retailer_key
  left join warehouse.dim_customer c on c.customer_key = o.customer_key
  where o.order_date = any(p_dates) and o.retailer_key = any(v_keys);
  analyze mart_orders;

  -- Their sales, grouped by product version and order outcome. A line's order is looked
  -- up among the dates' orders (one hash join); a line whose order is of another day keeps
  -- its order id and is resolved in fact_orders below; a line whose order was never loaded
  -- counts as neither canceled nor refunded.
  create temp table if not exists mart_sales (
    order_date date, retailer_key smallint, product_key bigint, other_day_order text,
    is_canceled boolean, is_refunded boolean, lines bigint, units bigint,
    usd numeric(16,2)
  ) on commit drop;
  truncate mart_sales;
  insert into mart_sales
  select s.order_date, s.retailer_key, s.product_key,
         case when o.order_id is null then s.order_id end,
         coalesce(o.canceled_at is not null, false),
         coalesce(o.refunded_at is not null and o.canceled_at is null, false),
         count(*), sum(s.quantity), sum(s.line_total_usd)
  from warehouse.fact_sales s
  left join mart_orders o on o.retailer_key = s.retailer_key and o.order_id = s.order_id
  where s.order_date = any(p_dates) and s.retailer_key = any(v_keys)
  group by 1, 2, 3, 4, 5, 6;
  perform set_config('enable_sort', v_enable_sort, true);
  perform set_config('enable_nestloop', v_enable_nestloop, true);
  update mart_sales m
  set is_canceled = f.canceled_at is not null,
      is_refunded = f.refunded_at is not null and f.canceled_at is null
  from warehouse.fact_orders f
  where m.other_day_order is not null and f.retailer_key = m.retailer_key
    and f.order_id = m.other_day_order;

  -- The same, with the product version's natural key and attributes.
  create temp table if not exists mart_lines (
    order_date date, retailer_id text, product_id text, product_valid_from timestamptz,
    category text, is_canceled boolean, is_refunded boolean, lines bigint, units bigint,
    usd numeric(16,2)
  ) on commit drop;
  truncate mart_lines;
  insert into mart_lines
  select m.order_date, r.retailer_id, p.product_id, p.valid_from,
         coalesce(p.category, '(unknown)'), m.is_canceled, m.is_refunded, sum(m.lines),
         sum(m.units), sum(m.usd)
  from mart_sales m
  join warehouse.dim_retailer r on r.retailer_key = m.retailer_key
  left join warehouse.dim_product p on p.product_key = m.product_key
  group by 1, 2, 3, 4, 5, 6, 7;
  analyze mart_lines;

  -- Q1: orders, lines, units and customers.
  delete from marts.daily_orders where order_date = any(p_dates)
    and (retailer_id = any(v_ids) or retailer_id = 'ALL');
  insert into marts.daily_orders (order_date, retailer_id, orders_created, order_lines,
                                  units_sold, customers)
  with o as (
    select order_date, retailer_id, count(*) as orders_created,
           count(distinct customer_id) as customers
    from mart_orders group by order_date, retailer_id
  ), l as (
    select order_date, retailer_id, sum(lines) as order_lines, sum(units) as units_sold
    from mart_lines group by order_date, retailer_id
  )
  select coalesce(o.order_date, l.order_date), coalesce(o.retailer_id, l.retailer_id),
         coalesce(o.orders_created, 0), coalesce(l.order_lines, 0), coalesce(l.units_sold, 0),
         coalesce(o.customers, 0)
  from o full join l on l.order_date = o.order_date and l.retailer_id = o.retailer_id;
  insert into marts.daily_orders (order_date, retailer_id, orders_created, order_lines,
                                  units_sold, customers)
  select order_date, 'ALL', sum(orders_created), sum(order_lines), sum(units_sold),
         sum(customers)
  from marts.daily_orders where order_date = any(p_dates) and retailer_id <> 'ALL'
  group by order_date;

  -- Q2: gross and net revenue.
  delete from marts.daily_revenue where order_date = any(p_dates)
    and (retailer_id = any(v_ids) or retailer_id = 'ALL');
  insert into marts.daily_revenue (order_date, retailer_id, gross_revenue_usd,
                                   canceled_revenue_usd, refunded_revenue_usd, net_revenue_usd)
  select order_date, retailer_id, sum(usd),
         coalesce(sum(usd) filter (where is_canceled), 0),
         coalesce(sum(usd) filter (where is_refunded), 0),
         coalesce(sum(usd) filter (where not is_canceled and not is_refunded), 0)
  from mart_lines group by order_date, retailer_id;
  insert into marts.daily_revenue (order_date, retailer_id, gross_revenue_usd,
                                   canceled_revenue_usd, refunded_revenue_usd, net_revenue_usd)
  select order_date, 'ALL', sum(gross_revenue_usd), sum(canceled_revenue_usd),
         sum(refunded_revenue_usd), sum(net_revenue_usd)
  from marts.daily_revenue where order_date = any(p_dates) and retailer_id <> 'ALL'
  group by order_date;

  -- Q3: created -> paid (-> shipped -> delivered).
  delete from marts.order_funnel where order_date = any(p_dates)
    and (retailer_id = any(v_ids) or retailer_id = 'ALL');
  insert into marts.order_funnel (order_date, retailer_id, orders_created, orders_paid,
                                  orders_shipped, orders_delivered, conversion_rate)
  select order_date, retailer_id, count(*), count(paid_at), count(shipped_at),
         count(delivered_at), marts.share(count(paid_at), count(*))
  from mart_orders group by order_date, retailer_id;
  insert into marts.order_funnel (order_date, retailer_id, orders_created, orders_paid,
                                  orders_shipped, orders_delivered, conversion_rate)
  select order_date, 'ALL', sum(orders_created), sum(orders_paid), sum(orders_shipped),
         sum(orders_delivered), marts.share(sum(orders_paid), sum(orders_created))
  from marts.order_funnel where order_date = any(p_dates) and retailer_id <> 'ALL'
  group by order_date;

  -- Q4a: products (product ids are per retailer: no 'ALL' rows; revenue_rank_all ranks the
  -- products of every retailer of the day).
  delete from marts.product_revenue where order_date = any(p_dates)
    and retailer_id = any(v_ids);
  insert into marts.product_revenue (order_date, retailer_id, product_id, product_name,
                                     category, units_sold, order_lines, gross_revenue_usd,
                                     net_revenue_usd, revenue_rank, revenue_rank_all)
  with agg as (
    select order_date, retailer_id, product_id, max(product_valid_from) as latest_version,
           sum(units) as units_sold, sum(lines) as order_lines, sum(usd) as gross,
           coalesce(sum(usd) filter (where not is_canceled and not is_refunded), 0) as net
    from mart_lines group by order_date, retailer_id, product_id
  )
  select a.order_date, a.retailer_id, a.product_id, p.product_name, p.category, a.units_sold,
         a.order_lines, a.gross, a.net,
         rank() over (partition by a.order_date, a.retailer_id order by a.gross desc), 0
  from agg a
  left join warehouse.dim_product p on p.retailer_id = a.retailer_id
       and p.product_id = a.product_id and p.valid_from = a.latest_version;
  update marts.product_revenue t set revenue_rank_all = r.rank_all
  from (select order_date, retailer_id, product_id,
               rank() over (partition by order_date order by gross_revenue_usd desc) as rank_all
        from marts.product_revenue where order_date = any(p_dates)) r
  where t.order_date = r.order_date and t.retailer_id = r.retailer_id
    and t.product_id = r.product_id and t.revenue_rank_all <> r.rank_all;

  -- Q4b: categories.
  delete from marts.category_revenue where order_date = any(p_dates)
    and (retailer_id = any(v_ids) or retailer_id = 'ALL');
  insert into marts.category_revenue (order_date, retailer_id, category, products, units_sold,
                                      order_lines, gross_revenue_usd, net_revenue_usd,
                                      revenue_share, revenue_rank)
  with agg as (
    select order_date, retailer_id, category, count(distinct product_id) as products,
           sum(units) as units_sold, sum(lines) as order_lines, sum(usd) as gross,
           coalesce(sum(usd) filter (where not is_canceled and not is_refunded), 0) as net
    from mart_lines group by order_date, retailer_id, category
  )
  select order_date, retailer_id, category, products, units_sold, order_lines, gross, net,
         marts.share(gross, sum(gross) over (partition by order_date, retailer_id)),
         rank() over (partition by order_date, retailer_id order by gross desc)
  from agg;
  insert into marts.category_revenue (order_date, retailer_id, category, products, units_sold,
                                      order_lines, gross_revenue_usd, net_revenue_usd,
                                      revenue_share, revenue_rank)
  with agg as (
    select order_date, category, sum(products) as products, sum(units_sold) as units_sold,
           sum(order_lines) as order_lines, sum(gross_revenue_usd) as gross,
           sum(net_revenue_usd) as net
    from marts.category_revenue where order_date = any(p_dates) and retailer_id <> 'ALL'
    group by order_date, category
  )
  select order_date, 'ALL', category, products, units_sold, order_lines, gross, net,
         marts.share(gross, sum(gross) over (partition by order_date)),
         rank() over (partition by order_date order by gross desc)
  from agg;

  -- Q5: canceled and refunded shares.
  delete from marts.order_cancellations where order_date = any(p_dates)
    and (retailer_id = any(v_ids) or retailer_id = 'ALL');
  insert into marts.order_cancellations (order_date, retailer_id, orders_created,
                                         orders_canceled, orders_refunded,
                                         orders_canceled_or_refunded, canceled_share,
                                         refunded_share, canceled_or_refunded_share)
  select order_date, retailer_id, count(*), count(canceled_at), count(refunded_at),
         count(*) filter (where canceled_at is not null or refunded_at is not null),
         marts.share(count(canceled_at), count(*)), marts.share(count(refunded_at), count(*)),
         marts.share(count(*) filter (where canceled_at is not null or refunded_at is not null),
                     count(*))
  from mart_orders group by order_date, retailer_id;
  insert into marts.order_cancellations (order_date, retailer_id, orders_created,
                                         orders_canceled, orders_refunded,
                                         orders_canceled_or_refunded, canceled_share,
                                         refunded_share, canceled_or_refunded_share)
  select order_date, 'ALL', sum(orders_created), sum(orders_canceled), sum(orders_refunded),
         sum(orders_canceled_or_refunded),
         marts.share(sum(orders_canceled), sum(orders_created)),
         marts.share(sum(orders_refunded), sum(orders_created)),
         marts.share(sum(orders_canceled_or_refunded), sum(orders_created))
  from marts.order_cancellations where order_date = any(p_dates) and retailer_id <> 'ALL'
  group by order_date;

  -- Q6: durations. Percentiles do not add up: the 'ALL' rows read every retailer's
  -- shipped or delivered orders of the dates.
  delete from marts.fulfillment_times where order_date = any(p_dates)
    and (retailer_id = any(v_ids) or retailer_id = 'ALL');
  insert into marts.fulfillment_times (
    order_date, retailer_id, orders_created, orders_shipped, orders_delivered,
    created_to_shipped_median_hours, created_to_shipped_p90_hours,
    shipped_to_delivered_median_hours, shipped_to_delivered_p90_hours,
    created_to_delivered_median_hours, created_to_delivered_p90_hours)
  with p as (
    -- one sort per duration: both quantiles come from the same ordered-set aggregate
    select order_date, retailer_id, count(*) as created, count(shipped_at) as shipped,
           count(delivered_at) as delivered,
           percentile_cont(array[0.5, 0.9]) within group
             (order by marts.hours(created_at, shipped_at)) as cs,
           percentile_cont(array[0.5, 0.9]) within group
             (order by marts.hours(shipped_at, delivered_at)) as sd,
           percentile_cont(array[0.5, 0.9]) within group
             (order by marts.hours(created_at, delivered_at)) as cd
    from mart_orders group by order_date, retailer_id
  )
  select order_date, retailer_id, created, shipped, delivered,
         marts.round_hours(cs[1]), marts.round_hours(cs[2]), marts.round_hours(sd[1]),
         marts.round_hours(sd[2]), marts.round_hours(cd[1]), marts.round_hours(cd[2])
  from p;
  insert into marts.fulfillment_times (
    order_date, retailer_id, orders_created, orders_shipped, orders_delivered,
    created_to_shipped_median_hours, created_to_shipped_p90_hours,
    shipped_to_delivered_median_hours, shipped_to_delivered_p90_hours,
    created_to_delivered_median_hours, created_to_delivered_p90_hours)
  with counts as (
    select order_date, sum(orders_created) as created, sum(orders_shipped) as shipped,
           sum(orders_delivered) as delivered
    from marts.fulfillment_times where order_date = any(p_dates) and retailer_id <> 'ALL'
    group by order_date
  ), p as (
    select order_date,
           percentile_cont(array[0.5, 0.9]) within group
             (order by marts.hours(created_at, shipped_at)) as cs,
           percentile_cont(array[0.5, 0.9]) within group
             (order by marts.hours(shipped_at, delivered_at)) as sd,
           percentile_cont(array[0.5, 0.9]) within group
             (order by marts.hours(created_at, delivered_at)) as cd
    from warehouse.fact_orders
    where order_date = any(p_dates) and (shipped_at is not null or delivered_at is not null)
    group by order_date
  )
  select c.order_date, 'ALL', c.created, c.shipped, c.delivered,
         marts.round_hours(p.cs[1]), marts.round_hours(p.cs[2]), marts.round_hours(p.sd[1]),
         marts.round_hours(p.sd[2]), marts.round_hours(p.cd[1]), marts.round_hours(p.cd[2])
  from counts c left join p on p.order_date = c.order_date;
end
$$;
