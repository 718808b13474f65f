-- retailer2 "Maple & Main": a US e-commerce platform. Prefixed text ids ("ORD-…"), money
-- in integer cents, timestamptz, purchases with items and a status history. Safe to run twice.
-- Purchase items have no unique key on (purchase_id, line): a retried write can store an
-- item twice (the "duplicate lines" fault).
-- Purchase ids are handed out in daily blocks ("ORD-" + day number x 1,000,000 + n, item ids
-- 16 per purchase) and the purchase tables are partitioned by those blocks, one partition
-- per day (`purchase_20240115`, ...), created by the seeder.

create table if not exists channel (
    code            text primary key,
    label           text not null,
    channel_type    text not null
                        constraint channel_type_check check (channel_type in ('web', 'app', 'marketplace', 'store')),
    city            text not null
);

create table if not exists product (
    code            text primary key,
    name            text not null,
    department      text not null,
    created_at      timestamptz not null
);

create table if not exists product_price (
    code            text not null,
    valid_from      timestamptz not null,
    price_cents     integer not null,
    constraint product_price_pk primary key (code, valid_from)
);

create table if not exists shopper (
    id              text primary key,
    created_at      timestamptz not null
);
create index if not exists shopper_created_day_ix on shopper (((created_at at time zone 'UTC')::date), id);

-- Every version of a shopper's profile (the first at registration).
create table if not exists shopper_profile (
    shopper_id      text not null,
    valid_from      timestamptz not null,
    email           text,
    full_name       text not null,
    city            text not null,
    region          text not null,
    constraint shopper_profile_pk primary key (shopper_id, valid_from)
);
create index if not exists shopper_profile_day_ix on shopper_profile (((valid_from at time zone 'UTC')::date), shopper_id);

create table if not exists purchase (
    id              text not null,
    shopper_id      text not null,
    channel_code    text not null,
    placed_at       timestamptz not null,
    total_cents     bigint not null,
    constraint purchase_pk primary key (id)
) partition by range (id);
-- The API's days are UTC days; these make "placed on D, after cursor X" an index range.
create index if not exists purchase_day_ix on purchase (((placed_at at time zone 'UTC')::date), id);
create index if not exists purchase_day_shopper_ix on purchase (((placed_at at time zone 'UTC')::date), shopper_id);

create table if not exists purchase_item (
    item_id         bigint not null,
    purchase_id     text not null,
    line            smallint not null,
    product_code    text not null,
    quantity        integer not null,
    unit_price_cents integer not null,
    discount_cents  integer not null,
    total_cents     integer not null,
    constraint purchase_item_pk primary key (item_id)
) partition by range (item_id);
create index if not exists purchase_item_purchase_ix on purchase_item (purchase_id, line, item_id);

-- Status changes; `recorded_day` is the UTC day the platform learned of them.
create table if not exists purchase_status (
    purchase_id     text not null,
    status          text not null constraint purchase_status_check
                        check (status in ('paid', 'shipped', 'delivered', 'canceled', 'refunded')),
    changed_at      timestamptz not null,
    recorded_day    date not null,
    constraint purchase_status_pk primary key (purchase_id, status)
) partition by range (purchase_id);
create index if not exists purchase_status_day_ix on purchase_status (recorded_day, purchase_id);
