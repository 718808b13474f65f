-- 35: file-delivered batches (retailer5): the inbox's claims, the batches loaded into the
-- facts, and the audited restatements of corrected files. Safe to run twice.

insert into warehouse.dim_retailer (retailer_key, retailer_id, retailer_name, currency, timezone)
values (5, 'retailer5', 'Harper, Finch & Co.', 'GBP', 'UTC')
on conflict (retailer_key) do nothing;

-- A deterministic, gently moving GBP rate (simulated, like the EUR one in 20_dim_date.sql).
insert into warehouse.fx_rate (currency, rate_date, usd_per_unit)
select 'GBP', d::date,
       round((1.27 + 0.03 * sin((d::date - date '2015-01-01') / 60.0))::numeric, 6)
from generate_series(date '2015-01-01', date '2035-12-31', interval '1 day') d
on conflict (currency, rate_date) do nothing;

-- Every file the inbox saw, once per upload. A file is claimed by its checksum: the partial
-- unique index lets one row per (retailer, sha256) be the claim, whatever the number of
-- scanners; another upload of the same bytes is recorded as `duplicate` (a no-op).
-- status: claimed (waiting for its run) | loading | loaded | duplicate | error | superseded
create table if not exists ops.inbox_file (
  file_id       bigint generated always as identity primary key,
  retailer_id   text not null,
  object_key    text not null,
  etag          text not null,
  bytes         bigint not null,
  sha256        text,
  file_type     text,                    -- sales | stores | products
  batch_date    date,
  status        text not null,
  reason        text,                    -- why an error (bad_name, truncated, ...)
  detail        jsonb not null default '{}',
  run_id        uuid,
  history_key   text,
  seen_at       timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  alerted_at    timestamptz,
  resolved_at   timestamptz,            -- an error made good by a later file of its batch
  constraint inbox_file_status_ck check (status in ('claimed', 'loading', 'loaded',
                                                    'duplicate', 'error', 'superseded'))
);
create unique index if not exists inbox_file_claim_uq on ops.inbox_file (retailer_id, sha256)
  where status in ('claimed', 'loading', 'loaded');
create index if not exists inbox_file_object_ix on ops.inbox_file (object_key, etag);
create index if not exists inbox_file_batch_ix on ops.inbox_file (retailer_id, batch_date, status);

-- Which orders each loaded file batch put into the facts: a corrected file replaces exactly
-- these (fact_sales and fact_orders rows of the batch's orders) with its own.
create table if not exists warehouse.file_batch (
  retailer_key  smallint not null,
  batch_date    date not null,
  sha256        text not null,
  run_id        uuid not null,
  lines         integer not null,
  amount        numeric(14,2) not null,
  loaded_at     timestamptz not null default now(),
  constraint file_batch_pk primary key (retailer_key, batch_date)
);
create table if not exists warehouse.file_batch_order (
  retailer_key  smallint not null,
  batch_date    date not null,
  order_id      text not null,
  constraint file_batch_order_pk primary key (retailer_key, batch_date, order_id)
);

-- One row per correction: what the batch held before and after, who and what did it.
create table if not exists ops.restatement (
  restatement_id  bigint generated always as identity primary key,
  retailer_id     text not null,
  batch_date      date not null,
  run_id          uuid not null,
  requested_by    text,
  sha256_before   text not null,
  sha256_after    text not null,
  lines_before    integer not null,
  lines_after     integer not null,
  amount_before   numeric(14,2) not null,
  amount_after    numeric(14,2) not null,
  orders_removed  integer not null,
  dates_touched   date[] not null,
  created_at      timestamptz not null default now()
);
create index if not exists restatement_batch_ix on ops.restatement (retailer_id, batch_date);
