"""The retailer and store dimensions (type 1) and inferred members of every dimension.

A fact whose customer, product or store has not arrived yet points at an inferred member:
a row with only its natural key and `is_inferred = true`. When the real record arrives the
same row is completed in place (stores here, customers and products in `scd2.py`), so no
fact is dropped and no fact needs repointing.
"""

from __future__ import annotations

from psycopg import sql

from services.transformation.context import LoadContext

# The retailers are seeded in 10_warehouse.sql; one that is not gets the next key.
ENSURE_RETAILER = """
insert into warehouse.dim_retailer (retailer_key, retailer_id, retailer_name, currency, timezone)
select m.next_key, %(retailer_id)s, %(retailer_id)s, coalesce(%(currency)s, 'USD'), 'UTC'
from (select coalesce(max(retailer_key), 0) + 1 as next_key from warehouse.dim_retailer) m
where not exists (select 1 from warehouse.dim_retailer where retailer_id = %(retailer_id)s)
on conflict do nothing
"""


def ensure_retailer(cur, retailer_id: str, currency: str | None) -> int:
    """The retailer's surrogate key, adding the retailer when it is not seeded."""
    cur.execute(ENSURE_RETAILER, {"retailer_id": retailer_id, "currency": currency})
    row = cur.execute("select retailer_key from warehouse.dim_retailer where retailer_id = %s",
                      (retailer_id,)).fetchone()
    return int(row[0])


UPSERT_STORES = """
with up as (
  insert into warehouse.dim_store as d (retailer_id, store_id, store_name, channel, city,
                                        region, country, is_inferred, run_id)
  select retailer_id, store_id, store_name, channel, city, region, country, false,
         %(run_id)s::uuid
  from stg_stores
  on conflict on constraint dim_store_nk do update
    set store_name = excluded.store_name, channel = excluded.channel, city = excluded.city,
        region = excluded.region, country = excluded.country, is_inferred = false,
        run_id = excluded.run_id, updated_at = now()
    where (d.store_name, d.channel, d.city, d.region, d.country, d.is_inferred)
          is distinct from (excluded.store_name, excluded.channel, excluded.city,
                            excluded.region, excluded.country, false)
  returning (xmax = 0) as inserted
)
select count(*) filter (where inserted), count(*) filter (where not inserted) from up
"""


def load_stores(ctx: LoadContext) -> None:
    """Stores are type 1: a changed store is overwritten in place; inferred ones completed."""
    inserted, updated = ctx.one(UPSERT_STORES)
    staged = ctx.scalar("select count(*) from stg_stores")
    inferred = add_inferred(ctx, "dim_store", "store_id", "stg_orders", "store_id")
    ctx.count("dim_store", inserted + inferred, updated, staged - inserted - updated,
              inferred=inferred)


def add_inferred(ctx: LoadContext, dim: str, id_column: str, source: str,
                 source_column: str, scd2: bool = False) -> int:
    """Insert an inferred member for every key the facts name but the dimension lacks.

    An SCD2 inferred member is valid for all time (-infinity..infinity) until completed.
    Returns the number of members added.
    """
    extra_cols = sql.SQL(", valid_from, valid_to") if scd2 else sql.SQL("")
    extra_vals = sql.SQL(", '-infinity', 'infinity'") if scd2 else sql.SQL("")
    return ctx.execute(sql.SQL(
        "insert into warehouse.{dim} (retailer_id, {id}, is_inferred, run_id{xc}) "
        "select %(retailer_id)s, k.key, true, %(run_id)s::uuid{xv} "
        "from (select distinct {src_col} as key from {src} where {src_col} is not null) k "
        "where not exists (select 1 from warehouse.{dim} d "
        "                  where d.retailer_id = %(retailer_id)s and d.{id} = k.key)"
    ).format(dim=sql.Identifier(dim), id=sql.Identifier(id_column), xc=extra_cols,
             xv=extra_vals, src_col=sql.Identifier(source_column),
             src=sql.Identifier(source))).rowcount
