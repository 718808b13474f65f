"""SCD type 2 for customers and products, set-based and independent of load order.

Every distinct record received is kept as an observation (`warehouse.<x>_observation`, one
row per natural key and `valid_from`). The versions of a member are a pure function of its
observations: sorted by `valid_from`, consecutive observations with the same tracked
attributes collapse into one version, each version is valid until the next one starts, and
the last is current. So partitions of different dates give the same versions whatever
order they are loaded in, and a record identical to what is known changes nothing.

Each load recomputes the versions of the members it staged and reconciles the dimension
with them: unchanged versions are not touched, changed ones are updated in place (an
inferred member becomes the first real version, keeping its key), new ones are inserted,
and versions that a late record merged away are deleted. Facts that a change moved into
another version's window are repointed.

A sale is matched to the version valid at its `created_at`; a sale older than the first
known version (a catalog only tells the state at the end of its day) points at the first
version. The `is_first` flag in the lookups below implements that fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from services.transformation.compose import assignments, columns
from services.transformation.context import LoadContext
from services.transformation.dimensions import add_inferred


@dataclass(frozen=True)
class FactRef:
    """A fact table column that points at versions of a dimension."""

    table: str
    key_column: str
    stamp_column: str     # the "last written" timestamp of the fact row


@dataclass(frozen=True)
class Scd2Dim:
    table: str
    observations: str
    id_column: str
    key_column: str
    attrs: tuple[str, ...]
    stage: str
    facts: tuple[FactRef, ...]
    # The marts show this dimension's attributes (products: name, category), so a change
    # of an existing version's attributes touches the dates of its facts.
    shown_in_marts: bool = False

    def sql(self, template: str, **extra: sql.Composable) -> sql.Composed:
        """`template` with this dimension's names: {dim}, {obs} and {stage} its table, its
        observations and its staging table; {id} and {key} its natural and surrogate key
        columns; {attrs} the tracked attributes; {want}, {current}, {plan} and {moved} this
        load's temporary tables of it. `extra` fills a statement's own placeholders."""
        return sql.SQL(template).format(
            dim=sql.Identifier(self.table), obs=sql.Identifier(self.observations),
            stage=sql.Identifier(self.stage), id=sql.Identifier(self.id_column),
            key=sql.Identifier(self.key_column), attrs=columns(self.attrs),
            want=sql.Identifier(f"want_{self.table}"),
            current=sql.Identifier(f"cur_{self.table}"),
            plan=sql.Identifier(f"plan_{self.table}"),
            moved=sql.Identifier(f"moved_{self.table}"), **extra)


CUSTOMER = Scd2Dim(
    table="dim_customer", observations="customer_observation", id_column="customer_id",
    key_column="customer_key", attrs=("email", "full_name", "city", "region", "country"),
    stage="stg_customers",
    facts=(FactRef("fact_orders", "customer_key", "updated_at"),
           FactRef("fact_sales", "customer_key", "loaded_at")),
)
PRODUCT = Scd2Dim(
    table="dim_product", observations="product_observation", id_column="product_id",
    key_column="product_key", attrs=("product_name", "category", "list_price", "currency"),
    stage="stg_products", facts=(FactRef("fact_sales", "product_key", "loaded_at"),),
    shown_in_marts=True,
)


OBSERVE = """
insert into warehouse.{obs} as o (retailer_id, {id}, valid_from, {attrs}, attr_hash,
                                  source_date, run_id)
select retailer_id, {id}, valid_from, {attrs}, md5(row({attrs})::text), %(run_date)s,
       %(run_id)s::uuid
from {stage}
on conflict (retailer_id, {id}, valid_from) do update
  set {assign}, attr_hash = excluded.attr_hash, source_date = excluded.source_date,
      run_id = excluded.run_id, loaded_at = now()
  -- a correction of a known version: the partition of the later date wins
  where o.attr_hash <> excluded.attr_hash and excluded.source_date >= o.source_date
"""

WANT = """
create temp table {want} on commit drop as
with o as (
  select {id}, valid_from, {attrs}, attr_hash,
         lag(attr_hash) over (partition by {id} order by valid_from) as prev_hash
  from warehouse.{obs}
  where retailer_id = %(retailer_id)s and {id} in (select {id} from {stage})
), starts as (
  select * from o where prev_hash is distinct from attr_hash
)
select {id}, valid_from, coalesce(lead(valid_from) over w, 'infinity') as valid_to,
       row_number() over w = 1 as is_first, {attrs}, attr_hash
from starts
window w as (partition by {id} order by valid_from)
"""

CURRENT = """
create temp table {current} on commit drop as
select d.{key} as key, d.{id}, d.valid_from, d.valid_to, d.is_inferred, d.attr_hash,
       row_number() over (partition by d.{id} order by d.valid_from) = 1 as is_first
from warehouse.{dim} d
where d.retailer_id = %(retailer_id)s and d.{id} in (select {id} from {stage})
"""

# Match existing rows to wanted versions by valid_from; an inferred member matches its
# member's first wanted version (it is completed in place, keeping its key).
PLAN = """
create temp table {plan} on commit drop as
with c as (
  select c.*, case when c.is_inferred then f.first_from else c.valid_from end as match_from
  from {current} c
  left join (select {id}, min(valid_from) as first_from from {want} group by {id}) f
    using ({id})
)
select coalesce(w.{id}, c.{id}) as {id}, c.key, c.valid_from as old_from,
       c.valid_to as old_to, c.is_first as old_first, c.attr_hash as old_hash,
       coalesce(c.is_inferred, false) as was_inferred,
       w.valid_from, w.valid_to, w.is_first, w.attr_hash, {attrs},   -- attributes: w's only
       case when c.key is null then 'insert'
            when w.valid_from is null then 'delete'
            when (c.valid_from, c.valid_to, c.attr_hash, c.is_inferred)
                 is not distinct from (w.valid_from, w.valid_to, w.attr_hash, false)
              then 'keep'
            else 'update' end as action,
       count(c.key) over (partition by coalesce(w.{id}, c.{id})) > 0 as member_existed
from {want} w
full join c on c.{id} = w.{id} and c.match_from = w.valid_from
"""

DELETE_MERGED = """
delete from warehouse.{dim} d using {plan} p where p.action = 'delete' and d.{key} = p.key
"""

UPDATE_CHANGED = """
update warehouse.{dim} d
set valid_from = p.valid_from, valid_to = p.valid_to, is_current = p.valid_to = 'infinity',
    is_inferred = false, {assign}, attr_hash = p.attr_hash, run_id = %(run_id)s::uuid,
    updated_at = now()
from {plan} p where p.action = 'update' and d.{key} = p.key
"""

INSERT_NEW = """
insert into warehouse.{dim} (retailer_id, {id}, {attrs}, valid_from, valid_to, is_current,
                             is_inferred, attr_hash, run_id)
select %(retailer_id)s, {id}, {attrs}, valid_from, valid_to, valid_to = 'infinity', false,
       attr_hash, %(run_id)s::uuid
from {plan} where action = 'insert'
"""

# From when on the facts of each changed member may point at the wrong version: the
# earliest instant at which a version's window (with the first-version fallback, whose
# window starts at -infinity) differs before and after. Members new to the dimension have
# no facts yet (theirs point at an inferred member, which keeps its key).
MOVED = """
create temp table {moved} on commit drop as
with p as (
  select {id}, action, old_to, valid_to,
         case when old_first then '-infinity'::timestamptz else old_from end as old_eff,
         case when is_first then '-infinity'::timestamptz else valid_from end as new_eff
  from {plan}
  where action <> 'keep' and member_existed
)
select {id}, min(case action when 'delete' then old_eff
                             when 'insert' then new_eff
                             else case when old_eff = new_eff then least(old_to, valid_to)
                                       else least(old_eff, new_eff) end end) as lo
from p group by {id}
"""

REPOINT = """
with v as (
  select d.{key} as key, d.{id}, d.valid_from, d.valid_to,
         row_number() over (partition by d.{id} order by d.valid_from) = 1 as is_first
  from warehouse.{dim} d
  where d.retailer_id = %(retailer_id)s and d.{id} in (select {id} from {moved})
), held as (
  select key, {id} from v
  union all
  select key, {id} from {plan} where action = 'delete'
), fixed as (
  update warehouse.{fact} f set {fkey} = v.key, run_id = %(run_id)s::uuid, {stamp} = now()
  from held h
  join {moved} m on m.{id} = h.{id}
  join v on v.{id} = h.{id}
  where f.retailer_key = %(retailer_key)s
    -- a bound on the date index: only days at or after the earliest change are read
    and f.order_date >= (select min(lo) from {moved})::date
    and f.{fkey} = h.key and f.created_at >= m.lo
    and f.created_at < v.valid_to and (f.created_at >= v.valid_from or v.is_first)
    and f.{fkey} <> v.key
  returning f.order_date
)
select order_date, count(*) from fixed group by order_date
"""

# Dates of the sales that point at versions whose attributes changed in place (their
# facts lie within the versions' old windows).
RESTATED = """
select {id}, key, case when old_first then '-infinity' else old_from end as lo
from {plan}
where action = 'update' and not was_inferred and old_hash is distinct from attr_hash
"""

RESTATED_DATES = """
select distinct f.order_date
from warehouse.{fact} f
join ({restated}) p on f.{fkey} = p.key
where f.retailer_key = %(retailer_key)s
  and f.order_date >= (select min(lo) from ({restated}) r)::date
"""

COMPLETED_INFERRED_DATES = """
with done as (
  delete from warehouse.inferred_product_date i using {plan} p
  where p.action = 'update' and p.was_inferred and i.product_key = p.key
  returning i.order_date
)
select distinct order_date from done
"""


def merge(ctx: LoadContext, dim: Scd2Dim) -> None:
    """Record the staged records and reconcile the dimension's versions with them."""
    if ctx.scalar(dim.sql("select count(*) from {stage}")):
        ctx.execute(dim.sql(OBSERVE, assign=assignments(dim.attrs, "excluded")))
        ctx.execute(dim.sql(WANT))
        ctx.execute(dim.sql(CURRENT))
        ctx.execute(dim.sql(PLAN))
        ctx.execute(dim.sql("analyze {plan}"))
        actions = dict(ctx.rows(dim.sql("select action, count(*) from {plan} group by 1")))
        if actions.get("delete"):
            ctx.execute(dim.sql(DELETE_MERGED))
        if actions.get("update"):
            ctx.execute(dim.sql(UPDATE_CHANGED, assign=assignments(dim.attrs, "p")))
        if actions.get("insert"):
            ctx.execute(dim.sql(INSERT_NEW))
        repoint(ctx, dim)
        if dim.shown_in_marts and actions.get("update"):
            restated_dates(ctx, dim)
    else:
        actions = {}
    ctx.count(dim.table, actions.get("insert", 0),
              actions.get("update", 0) + actions.get("delete", 0), actions.get("keep", 0))


def repoint(ctx: LoadContext, dim: Scd2Dim) -> None:
    """Point the facts of changed members at the version now valid at their created_at."""
    ctx.execute(dim.sql(MOVED))
    if not ctx.scalar(dim.sql("select exists (select 1 from {moved} where lo < 'infinity')")):
        return
    repointed = 0
    for fact in dim.facts:
        rows = ctx.rows(dim.sql(REPOINT, fact=sql.Identifier(fact.table),
                                fkey=sql.Identifier(fact.key_column),
                                stamp=sql.Identifier(fact.stamp_column)))
        ctx.touch(d for d, _ in rows)
        repointed += sum(n for _, n in rows)
    if repointed:
        ctx.counts.setdefault("repointed", {})[dim.table] = repointed


def restated_dates(ctx: LoadContext, dim: Scd2Dim) -> None:
    """Touch the order dates whose marts show attributes that changed in place."""
    restated = dim.sql(RESTATED)
    if ctx.scalar(dim.sql("select exists ({restated})", restated=restated)):
        for fact in dim.facts:
            ctx.touch(r[0] for r in ctx.rows(
                dim.sql(RESTATED_DATES, restated=restated, fact=sql.Identifier(fact.table),
                        fkey=sql.Identifier(fact.key_column))))
    # Completed inferred members: the sales that used them are listed by date.
    ctx.touch(r[0] for r in ctx.rows(dim.sql(COMPLETED_INFERRED_DATES)))


def load_customers(ctx: LoadContext) -> None:
    merge(ctx, CUSTOMER)
    inferred = add_inferred(ctx, "dim_customer", "customer_id", "stg_orders", "customer_id",
                            scd2=True)
    _add_inferred_count(ctx, CUSTOMER, inferred)


def load_products(ctx: LoadContext) -> None:
    merge(ctx, PRODUCT)
    inferred = add_inferred(ctx, "dim_product", "product_id", "stg_order_lines", "product_id",
                            scd2=True)
    _add_inferred_count(ctx, PRODUCT, inferred)


def _add_inferred_count(ctx: LoadContext, dim: Scd2Dim, inferred: int) -> None:
    counts = ctx.counts[dim.table]
    counts["inserted"] += inferred
    counts["inferred"] = inferred
