"""The partition's rejected records -> ops.rejected_record (replacing the run's earlier rows)."""

from __future__ import annotations

from services.transformation.context import LoadContext

DELETE_EARLIER = """
delete from ops.rejected_record
where run_id = %(run_id)s::uuid and retailer_id = %(retailer_id)s and run_date = %(run_date)s
"""

# amount and currency are kept only when they read as money and an ISO code.
INSERT_STAGED = """
insert into ops.rejected_record (run_id, retailer_id, run_date, entity, reason, detail,
                                 record_key, amount, currency, payload)
select %(run_id)s::uuid, %(retailer_id)s, %(run_date)s, entity, reason, detail, record_key,
       case when amount ~ '^-?[0-9]{1,12}(\\.[0-9]+)?$' then round(amount::numeric, 2) end,
       case when currency ~ '^[A-Z]{3}$' then currency end,
       payload
from stg_rejected
"""


def load_rejected(ctx: LoadContext) -> None:
    """Replace this run's rejected rows of the partition with the staged ones."""
    replaced = ctx.execute(DELETE_EARLIER).rowcount
    inserted = ctx.execute(INSERT_STAGED).rowcount
    ctx.count("rejected_record", inserted, 0, 0, replaced=replaced)
