-- 00: schemas and roles of the warehouse database. Safe to run twice.
-- Roles are cluster-wide, so they are created only when missing; grants live in 90_grants.sql.
create schema if not exists warehouse;
create schema if not exists marts;
create schema if not exists ops;
create schema if not exists quality;

do $$
begin
  if not exists (select from pg_roles where rolname = 'retail_pipeline') then
    create role retail_pipeline login;
  end if;
  if not exists (select from pg_roles where rolname = 'bi_reader') then
    create role bi_reader login;
  end if;
end
$$;

-- BI tools get a bounded statement time, whatever they send.
alter role bi_reader set statement_timeout = '60s';
alter role bi_reader set default_transaction_read_only = on;
