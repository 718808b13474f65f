-- 35: the event stream's state (retailer4 on NATS JetStream). Safe to run twice.
-- A micro-batch is landed by the ingestion stream consumer (landed), applied to the star
-- schema by transformation (applied, in the transaction that writes its effect), and only
-- then acknowledged on the stream; a batch whose apply cannot succeed (a permanent error)
-- is `failed` with its error, acknowledged, and its events count as not delivered.
-- docs/streaming.md.

create table if not exists ops.stream_batch (
  batch_id      uuid primary key,
  retailer_id   text not null,
  run_date      date not null,
  status        text not null default 'landed',
  manifest_key  text not null,
  manifest      jsonb not null,
  messages      integer not null default 0,
  events        integer not null default 0,
  duplicates    integer not null default 0,
  rejected      integer not null default 0,
  first_produced_at timestamptz,
  received_at   timestamptz not null default now(),
  applied_at    timestamptz,
  counts        jsonb not null default '{}',
  error         text,
  constraint stream_batch_status_ck check (status in ('landed', 'applied', 'failed'))
);
create index if not exists stream_batch_status_ix on ops.stream_batch (status, received_at);

-- The inbox: every event id the consumer took, once. A redelivered or republished event
-- whose batch was applied is a duplicate (counted, ignored).
create table if not exists ops.stream_inbox (
  event_id        text primary key,
  batch_id        uuid not null,
  retailer_id     text not null,
  event_type      text not null,
  event_version   integer not null,
  order_id        text,
  event_at        timestamptz not null,
  produced_at     timestamptz,
  amount          numeric(14,2),
  lines           integer not null default 0,
  received_at     timestamptz not null default now()
);
create index if not exists stream_inbox_order_ix on ops.stream_inbox (order_id, event_type);
create index if not exists stream_inbox_batch_ix on ops.stream_inbox (batch_id);

-- One row per durable consumer, updated after every batch: what it has not acknowledged
-- yet (retail_stream_consumer_lag_messages reads lag_messages).
create table if not exists ops.stream_consumer (
  consumer        text primary key,
  retailer_id     text not null,
  stream          text not null,
  lag_messages    bigint not null default 0,
  pending_acks    bigint not null default 0,
  delivered       bigint not null default 0,
  duplicates      bigint not null default 0,
  rejected        bigint not null default 0,
  last_batch_at   timestamptz,
  updated_at      timestamptz not null default now()
);
