"""`retailers`: create the retailers' databases and seed them.

    retailers init-db [--retailers retailer1,retailer2] [--drop]
    retailers seed --start 2024-01-15 [--end 2024-01-16] [--orders-per-day N]
                   [--retailers retailer1,retailer2]
    retailers drop-files --date 2024-01-15 [--end 2024-01-16] [--correct] [--truncate]
                   [--bad-name] [--malformed-lines N] [--orders-per-day N] [--no-products]
    retailers publish --date 2024-01-15 [--rate 500] [--no-chaos] [--orders-per-day N]
    retailers publish --live [--rate 500]        (retailer4's events on NATS JetStream)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from retailers.registry import parse_retailer_ids
from retailers.settings import DATABASES, GeneratorSettings, load_or_exit


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retailers", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init-db", help="create each retailer's database and apply its SQL")
    init.add_argument("--retailers", help="comma-separated ids (default: all three)")
    init.add_argument("--drop", action="store_true", help="drop the databases first")
    seed = sub.add_parser("seed", help="generate and write dates (idempotent per date)")
    seed.add_argument("--start", type=_date, required=True)
    seed.add_argument("--end", type=_date, help="last date, inclusive (default: --start)")
    seed.add_argument("--orders-per-day", type=int, help="override RETAILER_ORDERS_PER_DAY")
    seed.add_argument("--retailers", help="comma-separated ids (default: all three)")
    drop = sub.add_parser("drop-files",
                          help="retailer5: put a date's CSV files into the S3 inbox")
    drop.add_argument("--date", type=_date, required=True)
    drop.add_argument("--end", type=_date, help="last date, inclusive (default: --date)")
    drop.add_argument("--orders-per-day", type=int, help="override RETAILER_ORDERS_PER_DAY")
    drop.add_argument("--correct", action="store_true",
                      help="the corrected sales file of the date (lines changed/removed/added)")
    drop.add_argument("--truncate", action="store_true", help="cut the sales file mid-line")
    drop.add_argument("--bad-name", action="store_true",
                      help="upload the sales file under a name that does not parse")
    drop.add_argument("--malformed-lines", type=int, default=None,
                      help="spoil N sales lines (default RETAILER5_MALFORMED_LINES)")
    drop.add_argument("--no-products", action="store_true", help="leave the products file out")
    pub = sub.add_parser("publish", help="publish retailer4's events of a date (replay) or "
                                         "of today as they happen (--live)")
    pub.add_argument("--date", type=_date, help="the date to replay")
    pub.add_argument("--live", action="store_true", help="today's events, paced at --rate")
    pub.add_argument("--rate", type=float, help="events per second (default: as fast as "
                                                "the stream takes them; --live: 50)")
    pub.add_argument("--orders-per-day", type=int, help="override RETAILER_ORDERS_PER_DAY")
    pub.add_argument("--no-chaos", action="store_true", help="ignore the RETAILER4_* faults")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "drop-files":
        return _drop_files(args)
    if args.command == "publish":
        return _publish(args)
    try:
        ids = parse_retailer_ids(args.retailers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Only what the command uses: each chosen retailer's RETAILERn_DATABASE_URL, and for
    # `seed` the generator's RETAILER_* (no credentials, nothing of the pipeline).
    urls = {rid: load_or_exit(DATABASES[rid]).database_url for rid in ids}
    if args.command == "init-db":
        return _init_db(ids, urls, args.drop)
    return _seed(ids, urls, args)


def _init_db(ids: list[str], urls: dict[str, str], drop: bool) -> int:
    from retailers.db import init_db

    for rid in ids:
        t0 = time.perf_counter()
        applied = init_db(rid, urls[rid], drop=drop)
        print(f"{rid}: applied {', '.join(applied)} ({time.perf_counter() - t0:.2f}s)")
    return 0


def _seed(ids: list[str], urls: dict[str, str], args) -> int:
    from retailers.generator import seed_dates

    overrides = {}
    if args.orders_per_day is not None:
        if args.orders_per_day < 0:
            print("error: --orders-per-day must not be negative", file=sys.stderr)
            return 2
        overrides["orders_per_day"] = args.orders_per_day
    try:
        report = seed_dates(ids, args.start, args.end or args.start,
                            generator=load_or_exit(GeneratorSettings), overrides=overrides,
                            database_urls=urls)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for rid, state in report.master.items():
        print(f"{rid}: master data {state}")
    for d in report.days:
        faults = ", ".join(f"{k}={v}" for k, v in d.faults.items())
        print(f"{d.retailer_id} {d.day}: {d.orders} orders, {d.lines} lines, {d.events} events "
              f"(generate {d.generate_seconds:.2f}s, write {d.write_seconds:.2f}s) "
              f"faults: {faults}")
    print(f"total: {report.orders} orders, {report.lines} lines in {report.seconds:.2f}s")
    return 0


def _drop_files(args) -> int:
    """retailer5 drops its files: no database, only its bucket and the generator."""
    from retailers.retailer5.drop import drop, s3_client
    from retailers.retailer5.files import day_files
    from retailers.settings import Retailer5DropSettings

    s = load_or_exit(Retailer5DropSettings)
    extra: dict = {"correction": args.correct}
    if args.truncate:
        extra["truncate"] = True
    if args.bad_name:
        extra["bad_name"] = True
    if args.malformed_lines is not None:
        extra["malformed_lines"] = args.malformed_lines
    faults = s.own.faults(**extra)
    client = s3_client(s.own)
    day, end = args.date, args.end or args.date
    while day <= end:
        files = day_files(s.retailer, day, faults=faults,
                          products=s.own.send_products and not args.no_products,
                          orders_per_day=args.orders_per_day)
        for key in drop(client, s.own.s3_bucket, s.own.inbox_prefix, files):
            print(f"retailer5 {day}: s3://{s.own.s3_bucket}/{key}")
        day += dt.timedelta(days=1)
    return 0




def _publish(args) -> int:
    import json

    from retailers.retailer4 import api, publisher
    from retailers.retailer4.chaos import StreamChaos
    from retailers.settings import Retailer4ServerSettings

    if args.live == (args.date is not None):
        print("error: give --date or --live", file=sys.stderr)
        return 2
    s = load_or_exit(Retailer4ServerSettings)
    if args.orders_per_day is not None:
        s.generator.orders_per_day = args.orders_per_day
    day = args.date or dt.datetime.now(dt.UTC).date()
    rate = args.rate or (50.0 if args.live else None)
    report = publisher.replay_day(api.target_of(s), api.master_of(s), day,
                                  orders_per_day=s.generator.orders_per_day, v2_from=s.v2_from,
                                  chaos=StreamChaos() if args.no_chaos else api.chaos_of(s),
                                  seed=s.generator.seed, rate=rate,
                                  late_after=s.late_after_seconds)
    print(json.dumps(report.as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
