"""Volume anomaly: the day's order lines against the same weekday of previous weeks.

Retail volume has a weekly rhythm, so a Monday is compared with Mondays. The baseline is
the median of the previous QUALITY_VOLUME_WEEKS same weekdays that have data (a median
shrugs off one odd holiday); with no such day there is nothing to compare and the check
passes. A deviation beyond QUALITY_VOLUME_TOLERANCE (a share of the baseline) warns:
volume is the business's to explain, reconciliation already proves nothing was lost.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from statistics import median

from sqlalchemy import text

from services.quality.checks.base import (
    CheckContext,
    Outcome,
    Scope,
    Severity,
    Status,
    python_check,
)


@python_check(
    name="volume_vs_same_weekday", kind="volume", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE, threshold="|lines - baseline| / baseline <= "
                                         "QUALITY_VOLUME_TOLERANCE",
    description="The date's order lines are within the tolerance of the median of the same "
                "weekday over the previous QUALITY_VOLUME_WEEKS weeks (passes with no history).",
)
def volume_vs_same_weekday(ctx: CheckContext) -> Outcome:
    weeks = ctx.settings.volume_weeks
    history_dates = [ctx.run_date - dt.timedelta(weeks=k) for k in range(1, weeks + 1)]
    per_date: dict[dt.date, int] = dict(ctx.conn.execute(
        text("select order_date, count(*) from warehouse.fact_sales "
             "where retailer_key = :retailer_key and order_date = any(:dates) "
             "group by order_date"),
        {**ctx.params(), "dates": [ctx.run_date, *history_dates]},
    ).all())
    today = int(per_date.get(ctx.run_date, 0))
    history = {d: int(per_date[d]) for d in history_dates if per_date.get(d)}
    tolerance = Decimal(str(ctx.settings.volume_tolerance))
    if not history:
        return Outcome(Status.PASS, None, tolerance,
                       f"{today} lines; no same-weekday history in the last {weeks} weeks")
    baseline = Decimal(str(median(history.values())))
    deviation = abs(Decimal(today) - baseline) / baseline
    message = (f"{today} lines against a median of {baseline} on the previous "
               f"{len(history)} {ctx.run_date:%A}s ({float(deviation):.0%} off)")
    sample = [{"date": d.isoformat(), "lines": n} for d, n in sorted(history.items())]
    sample.append({"date": ctx.run_date.isoformat(), "lines": today})
    status = Status.FAIL if deviation > tolerance else Status.PASS
    return Outcome(status, round(deviation, 4), tolerance, message,
                   sample if status is Status.FAIL else [])


CHECKS = [volume_vs_same_weekday]
