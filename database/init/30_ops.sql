-- 30: operational state: runs, their steps per partition, manifests, rejected records.
-- Safe to run twice. Any service answers "where is run X" from these tables alone.

create table if not exists ops.run (
  run_id        uuid primary key,
  run_date      date not null,
  kind          text not null default 'ingest',
  status        text not null default 'queued',
  retailers     text[] not null,
  backfill_id   uuid,
  requested_by  text,
  created_at    timestamptz not null default now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  updated_at    timestamptz not null default now(),
  error         text,
  constraint run_kind_ck check (kind in ('ingest', 'replay')),
  constraint run_status_ck check (status in ('queued', 'running', 'succeeded',
                                             'succeeded_with_warnings', 'failed', 'canceled'))
);
-- Only one run per date may be active.
create unique index if not exists run_one_active_per_date_uq
  on ops.run (run_date) where status in ('queued', 'running');
create index if not exists run_date_ix on ops.run (run_date, created_at desc);

-- One row per (run, step, retailer); retailer_id '*' for a run-wide step (quality).
-- pending: not sent yet; queued: sent to a worker; running: a worker holds the lease;
-- failed: ended with an error that retrying will not fix; dead: gave up after max_attempts.
create table if not exists ops.run_step (
  run_id            uuid not null references ops.run (run_id) on delete cascade,
  step              text not null,
  retailer_id       text not null,
  run_date          date not null,
  status            text not null default 'pending',
  attempts          integer not null default 0,
  max_attempts      integer not null default 3,
  lease_expires_at  timestamptz,
  task_id           text,
  queued_at         timestamptz,
  started_at        timestamptz,
  finished_at       timestamptz,
  updated_at        timestamptz not null default now(),
  progress          jsonb not null default '{}',
  counts            jsonb not null default '{}',
  error             text,
  error_detail      jsonb,
  constraint run_step_pk primary key (run_id, step, retailer_id),
  constraint run_step_step_ck check (step in ('ingest', 'transform', 'quality')),
  constraint run_step_status_ck check (status in ('pending', 'queued', 'running', 'succeeded',
                                                  'failed', 'dead', 'skipped'))
);
create index if not exists run_step_lease_ix on ops.run_step (status, lease_expires_at);

-- The manifest of each landed partition (also in S3, where it is the commit marker).
create table if not exists ops.manifest (
  run_id        uuid not null,
  retailer_id   text not null,
  run_date      date not null,
  manifest_key  text not null,
  manifest      jsonb not null,
  created_at    timestamptz not null default now(),
  constraint manifest_pk primary key (run_id, retailer_id)
);
create index if not exists manifest_date_ix on ops.manifest (run_date, retailer_id);

-- Every record ingestion could not normalize, with its machine-readable reason.
create table if not exists ops.rejected_record (
  rejected_id   bigint generated always as identity primary key,
  run_id        uuid not null,
  retailer_id   text not null,
  run_date      date not null,
  entity        text not null,
  reason        text not null,
  detail        text,
  record_key    text,
  amount        numeric(14,2),
  currency      char(3),
  payload       jsonb,
  created_at    timestamptz not null default now()
);
create index if not exists rejected_record_partition_ix
  on ops.rejected_record (run_date, retailer_id, run_id);
