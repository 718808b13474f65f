-- The simulator's control plane, applied to every retailer database before its own schema.
-- It is not part of the retailer's business schema: the API reads it for chaos settings and
-- the data version, the generator for what it has seeded. Safe to run twice.
create schema if not exists sim;

-- One row: the chaos values every server worker polls (about once a second).
create table if not exists sim.chaos (
    id                  smallint primary key default 1 constraint chaos_single_row check (id = 1),
    error_rate          double precision not null default 0,
    throttle_rate       double precision not null default 0,
    retry_after         integer not null default 1,
    slow_rate           double precision not null default 0,
    slow_seconds        double precision not null default 0,
    token_ttl           integer not null default 300,
    -- The server start (gunicorn master) that last applied the start-up settings, so a
    -- worker restarted later does not wipe a change made through POST /admin/chaos.
    boot_id             text,
    updated_at          timestamptz not null default now()
);
insert into sim.chaos (id) values (1) on conflict do nothing;
-- Bumped by every change of the values, so a client can tell when all workers apply one.
alter table sim.chaos add column if not exists version bigint not null default 0;

-- Which chaos version each server worker read last, and when: a worker applies its copy
-- until it is a second old (retailers.core.chaos), so GET /admin/chaos can tell the
-- oldest version any worker of the server may still apply.
create table if not exists sim.chaos_reader (
    boot_id             text not null,
    pid                 integer not null,
    version             bigint not null,
    read_at             timestamptz not null default now(),
    constraint chaos_reader_pk primary key (boot_id, pid)
);

-- One row: which master data is loaded, and a counter bumped by every seed so the servers'
-- per-day key caches notice new data.
create table if not exists sim.generator (
    id                  smallint primary key default 1 constraint generator_single_row check (id = 1),
    fingerprint         jsonb,
    data_version        bigint not null default 0,
    master_loaded_at    timestamptz
);
insert into sim.generator (id) values (1) on conflict do nothing;
-- The layout version of the retailer's own schema (retailers.db.SCHEMA_VERSION): a database
-- built with another one is rebuilt by init_db (its data is regenerable from the seed).
alter table sim.generator add column if not exists schema_version integer;

-- One row per seeded date: what the generator wrote for orders created that day.
create table if not exists sim.seeded_day (
    day                 date primary key,
    orders              integer not null,
    lines               integer not null,
    events              integer not null,
    faults              jsonb not null,
    seeded_at           timestamptz not null default now(),
    seconds             double precision not null
);
