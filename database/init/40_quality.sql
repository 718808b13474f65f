-- 40: quality checks as data, and their results per run, retailer, date and check.
-- Safe to run twice. The definitions are written by the quality service from its registry
-- (services/quality/checks/), so this file holds the shape, not the checks themselves.

create table if not exists quality.check_definition (
  check_name      text primary key,
  kind            text not null,                 -- reconciliation | completeness | ...
  description     text not null,
  severity        text not null,                 -- critical fails the run; warning warns
  scope           text not null,                 -- retailer_date | run
  threshold       text not null,                 -- the rule, as a person reads it
  body_kind       text not null,                 -- sql | python
  body            text not null,                 -- the SQL, or the Python function's path
  is_active       boolean not null default true, -- false once removed from the registry
  definition_hash text not null,                 -- changes whenever the definition does
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  constraint check_definition_severity_ck check (severity in ('critical', 'warning')),
  constraint check_definition_scope_ck check (scope in ('retailer_date', 'run')),
  constraint check_definition_body_kind_ck check (body_kind in ('sql', 'python'))
);

-- One row per (run, retailer, check); retailer_id '*' for a run-wide check. Re-running the
-- checks of a date (quality.check_date) overwrites the row and counts the evaluation, so
-- the row always holds the latest judgement of that run's data.
create table if not exists quality.check_result (
  result_id    bigint generated always as identity primary key,
  run_id       uuid not null,
  run_date     date not null,
  retailer_id  text not null,
  check_name   text not null,
  severity     text not null,                    -- as it was when evaluated
  status       text not null,
  observed     numeric,                          -- the measured value (a count, share, diff)
  threshold    numeric,                          -- the largest observed value that passes
  message      text not null,
  sample       jsonb not null default '[]',      -- up to QUALITY_SAMPLE_SIZE failing keys
  started_at   timestamptz not null,
  finished_at  timestamptz not null,
  duration_ms  integer not null,
  evaluations  integer not null default 1,
  constraint check_result_uq unique (run_id, retailer_id, check_name),
  constraint check_result_run_fk foreign key (run_id)
    references ops.run (run_id) on delete cascade,
  constraint check_result_check_fk foreign key (check_name)
    references quality.check_definition (check_name),
  constraint check_result_status_ck check (status in ('pass', 'warn', 'fail', 'error')),
  constraint check_result_severity_ck check (severity in ('critical', 'warning'))
);
create index if not exists check_result_date_ix
  on quality.check_result (run_date, retailer_id);
create index if not exists check_result_status_ix
  on quality.check_result (status, run_date) where status <> 'pass';
