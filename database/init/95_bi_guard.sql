-- 95: the guard that enforces bi_reader's statement limit. Safe to run twice.
--
-- PostgreSQL 15 lets any role change its own statement_timeout (a user-settable parameter)
-- and its own role defaults (`alter role bi_reader set ...` is allowed on oneself), so the
-- 60 s limit set in 00_schemas_roles.sql is only a default. What enforces it is this
-- function, called every few seconds by the suite's scheduler (task ingestion.guard_bi_reader,
-- BI_GUARD_INTERVAL_SECONDS): it cancels bi_reader statements running past the limit,
-- ends bi_reader transactions left open past it (they hold locks a load may wait for), and
-- puts back the role defaults if bi_reader changed them. It runs as its owner (the role
-- that applies these files, a superuser), so the pipeline role needs no signalling rights.
create or replace function ops.enforce_bi_reader(limit_seconds integer default 60)
returns table (canceled integer, terminated integer, defaults_restored boolean)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  -- the defaults of 00_schemas_roles.sql, whatever limit this call enforces (the role is
  -- cluster-wide: a guard must not rewrite it to its own limit)
  expected text[] := array['default_transaction_read_only=on', 'statement_timeout=60s'];
  bi oid := (select oid from pg_roles where rolname = 'bi_reader');
  stray record;
begin
  select count(*) filter (where pg_cancel_backend(a.pid)) into canceled
  from pg_stat_activity a
  where a.usesysid = bi and a.state = 'active'
    and a.query_start < clock_timestamp() - make_interval(secs => limit_seconds);
  select count(*) filter (where pg_terminate_backend(a.pid)) into terminated
  from pg_stat_activity a
  where a.usesysid = bi and a.state like 'idle in transaction%'
    and a.state_change < clock_timestamp() - make_interval(secs => limit_seconds);
  defaults_restored := false;
  for stray in
    select s.setdatabase, d.datname from pg_db_role_setting s
    left join pg_database d on d.oid = s.setdatabase
    where s.setrole = bi
      and (s.setdatabase <> 0
           or array(select x from unnest(s.setconfig) x order by x) <> expected)
  loop
    if stray.setdatabase = 0 then
      execute 'alter role bi_reader reset all';
    elsif stray.datname is not null then
      execute format('alter role bi_reader in database %I reset all', stray.datname);
    end if;
    defaults_restored := true;
  end loop;
  if not exists (select from pg_db_role_setting where setrole = bi and setdatabase = 0) then
    execute 'alter role bi_reader set statement_timeout = ''60s''';
    execute 'alter role bi_reader set default_transaction_read_only = on';
  end if;
  return next;
end
$$;
revoke all on function ops.enforce_bi_reader(integer) from public;
grant execute on function ops.enforce_bi_reader(integer) to retail_pipeline;
