-- retailer1 "Northwind Outfitters": a legacy US ERP. Integer ids, dollars as numeric,
-- naive timestamps that hold UTC, order header and lines, a status log. Safe to run twice.
-- The line table has no unique key on (order_id, line_no): a double-posting bug can store a
-- line twice (the "duplicate lines" fault), and `row_id` tells the two apart.
-- Order and line ids are handed out in daily blocks (order ids: day number x 1,000,000;
-- line row ids: 16 per order id), and the order tables are partitioned by those blocks,
-- one partition per day (`sales_order_20240115`, ...), created by the seeder.

create table if not exists store (
    store_id        integer primary key,
    store_name      text not null,
    city            text not null,
    state           char(2) not null,
    kind            text not null constraint store_kind_check check (kind in ('retail', 'online'))
);

create table if not exists item (
    sku             text primary key,
    title           text not null,
    category        text not null,
    created_ts      timestamp not null
);

-- Every price an item has had; the price "as of" a moment is the latest row before it.
create table if not exists item_price (
    sku             text not null,
    effective_ts    timestamp not null,
    price           numeric(10, 2) not null,
    constraint item_price_pk primary key (sku, effective_ts)
);

create table if not exists customer (
    customer_id     integer primary key,
    signup_ts       timestamp not null
);
create index if not exists customer_signup_ix on customer (signup_ts, customer_id);

-- Every revision of a customer's attributes (the first at sign-up).
create table if not exists customer_rev (
    customer_id     integer not null,
    modified_ts     timestamp not null,
    email           text,
    first_name      text not null,
    last_name       text not null,
    city            text not null,
    state           char(2) not null,
    constraint customer_rev_pk primary key (customer_id, modified_ts)
);
create index if not exists customer_rev_modified_ix on customer_rev (modified_ts, customer_id);

create table if not exists sales_order (
    order_id        bigint not null,
    order_ts        timestamp not null,
    customer_id     integer not null,
    store_id        integer not null,
    constraint sales_order_pk primary key (order_id)
) partition by range (order_id);
create index if not exists sales_order_ts_ix on sales_order (order_ts) include (order_id, customer_id);

create table if not exists sales_order_line (
    row_id          bigint not null,
    order_id        bigint not null,
    line_no         smallint not null,
    sku             text not null,
    qty             integer not null,
    unit_price      numeric(10, 2) not null,
    discount        numeric(10, 2) not null,
    line_total      numeric(12, 2) not null,
    constraint sales_order_line_pk primary key (row_id)
) partition by range (row_id);
create index if not exists sales_order_line_order_ix on sales_order_line (order_id, line_no, row_id);

-- Lifecycle changes; `logged_on` is the (UTC) day the ERP recorded them, which is later
-- than the day of `status_ts` for a late change.
create table if not exists order_status_log (
    order_id        bigint not null,
    status          text not null constraint order_status_log_status_check
                        check (status in ('paid', 'shipped', 'delivered', 'canceled', 'refunded')),
    status_ts       timestamp not null,
    logged_on       date not null,
    constraint order_status_log_pk primary key (order_id, status)
) partition by range (order_id);
create index if not exists order_status_log_day_ix on order_status_log (logged_on, order_id);
