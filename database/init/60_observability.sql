-- 60: indexes that keep the quality API's GET /metrics (services/quality/metrics.py) cheap
-- however long the history: each "latest per retailer" figure is one short index walk.
-- Safe to run twice.

-- The latest finished (judged) run covering a retailer, and its check results.
create index if not exists run_finished_ix
  on ops.run (finished_at desc)
  where status in ('succeeded', 'succeeded_with_warnings', 'failed');
-- The latest complete date of a retailer (freshness).
create index if not exists run_complete_date_ix
  on ops.run (run_date desc)
  where status in ('succeeded', 'succeeded_with_warnings');
-- The first run ever created (from when dates are owed, as GET /health counts them).
create index if not exists run_created_ix on ops.run (created_at);
-- The latest succeeded step of a retailer (its partition's lines).
create index if not exists run_step_latest_ix
  on ops.run_step (step, retailer_id, finished_at desc)
  where status = 'succeeded';
-- The steps that ended in a time range (the ended steps' sums read only what ended since
-- the last scrape).
create index if not exists run_step_ended_ix
  on ops.run_step (finished_at)
  where status in ('succeeded', 'failed', 'dead', 'skipped');
