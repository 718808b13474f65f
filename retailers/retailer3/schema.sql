-- retailer3 "Euromarché": a European retail group's order service. Internal bigint keys
-- with public UUIDs / numeric strings, euros as numeric, timestamptz, and separate tables
-- for headers, items and lifecycle events. Safe to run twice.
-- Items have no unique key on (header_id, position): the "duplicate lines" fault stores one
-- twice.
-- Internal keys are handed out in daily blocks (headers: day number x 1,000,000 + n; items
-- 16 and events 8 per header) and the sales tables are partitioned by those blocks, one
-- partition per day (`sales_header_20240115`, ...), created by the seeder. Public UUIDs are
-- random and unique by construction; they are not indexed (nothing looks orders up by them).

create table if not exists outlet (
    outlet_ref      text primary key,
    label           text not null,
    town            text not null,
    country         char(2) not null,
    format          text not null
                        constraint outlet_format_check check (format in ('hypermarket', 'supermarket', 'express', 'online'))
);

create table if not exists article (
    article_number  text primary key,
    label           text not null,
    product_group   text not null,
    created_at      timestamptz not null
);

create table if not exists article_price (
    article_number  text not null,
    valid_from      timestamptz not null,
    price           numeric(12, 2) not null,
    constraint article_price_pk primary key (article_number, valid_from)
);

create table if not exists client (
    id              bigint primary key,
    client_ref      text not null constraint client_ref_uq unique,
    registered_at   timestamptz not null
);
create index if not exists client_registered_ix on client (registered_at, id);

create table if not exists client_version (
    client_id       bigint not null,
    changed_at      timestamptz not null,
    mail            text,
    name            text not null,
    town            text not null,
    country         char(2) not null,
    constraint client_version_pk primary key (client_id, changed_at)
);
create index if not exists client_version_changed_ix on client_version (changed_at, client_id);

create table if not exists sales_header (
    id              bigint not null,
    order_number    uuid not null,
    client_id       bigint not null,
    outlet_ref      text not null,
    created_at      timestamptz not null,
    currency        char(3) not null default 'EUR',
    grand_total     numeric(12, 2) not null,
    constraint sales_header_pk primary key (id)
) partition by range (id);
create index if not exists sales_header_created_ix on sales_header (created_at) include (id, client_id);

create table if not exists sales_item (
    id              bigint not null,
    header_id       bigint not null,
    position        integer not null,
    article_number  text not null,
    quantity        integer not null,
    unit_price      numeric(12, 2) not null,
    discount        numeric(12, 2) not null,
    line_total      numeric(12, 2) not null,
    constraint sales_item_pk primary key (id)
) partition by range (id);
create index if not exists sales_item_header_ix on sales_item (header_id, position, id);

-- Lifecycle events; `reported_on` is the UTC day the event reached the order service.
create table if not exists sales_event (
    id              bigint not null,
    event_id        uuid not null,
    header_id       bigint not null,
    event_type      text not null constraint sales_event_type_check
                        check (event_type in ('PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED')),
    occurred_at     timestamptz not null,
    reported_on     date not null,
    constraint sales_event_pk primary key (id)
) partition by range (id);
create index if not exists sales_event_reported_ix on sales_event (reported_on, id);
create index if not exists sales_event_header_ix on sales_event (header_id);
