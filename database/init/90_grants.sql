-- 90: privileges. Runs last so every table exists. Safe to run twice.
-- retail_pipeline writes everything of the suite; bi_reader reads warehouse and marts only.
grant usage, create on schema warehouse, marts, ops, quality to retail_pipeline;
grant select, insert, update, delete, truncate on all tables in schema warehouse, marts, ops, quality
  to retail_pipeline;
grant usage, select, update on all sequences in schema warehouse, marts, ops, quality to retail_pipeline;
grant execute on all functions in schema warehouse, marts, ops, quality to retail_pipeline;

revoke all on schema ops, quality from bi_reader;
revoke all on all tables in schema ops, quality from bi_reader;
revoke create on schema public from public;
revoke create on schema warehouse, marts from bi_reader;
grant usage on schema warehouse, marts to bi_reader;
grant select on all tables in schema warehouse, marts to bi_reader;

-- Tables created later by the owner of these schemas are readable by BI too.
alter default privileges in schema warehouse, marts grant select on tables to bi_reader;
alter default privileges in schema warehouse, marts, ops, quality
  grant select, insert, update, delete, truncate on tables to retail_pipeline;

-- bi_reader is held to reading by privileges, not by session defaults it may change itself
-- (issue #14): no temporary tables (TEMP is a database privilege every role has through
-- PUBLIC), and no large objects (lo_create and friends are executable by PUBLIC and would
-- write inside `begin read write`). The pipeline keeps TEMP: the loads stage in temp tables.
do $$
begin
  execute format('revoke temporary on database %I from public', current_database());
  execute format('grant temporary on database %I to retail_pipeline', current_database());
end
$$;
revoke execute on function pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
  pg_catalog.lo_from_bytea(oid, bytea) from public;
