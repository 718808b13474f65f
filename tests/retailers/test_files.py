"""retailer5's files: deterministic in (seed, date), the quirks and faults they are asked
for, and `retailers drop-files` putting them into a real S3 server's inbox."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess

from retailers.retailer5.files import BOM, SALES_COLUMNS, Faults, Quirks, day_files
from retailers.settings import GeneratorSettings
from suite.processes import ROOT, VENV_BIN

DAY = dt.date(2024, 2, 20)
GEN = GeneratorSettings(orders_per_day=30, seed=11)


def by_name(files) -> dict[str, bytes]:
    return {f.name: f.body for f in files}


def rows(body: bytes) -> list[list[str]]:
    return [r for r in csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")) if r]


def test_the_same_seed_and_date_give_the_same_bytes_and_another_date_others():
    assert by_name(day_files(GEN, DAY)) == by_name(day_files(GEN, DAY))
    assert by_name(day_files(GEN, DAY))["stores_20240220.csv"] != \
        by_name(day_files(GEN, DAY + dt.timedelta(days=1)))["stores_20240221.csv"]


def test_quirks_shape_the_bytes():
    q = Quirks(header=True, reorder=True, bom=True, crlf=True, blank_tail=2)
    body = by_name(day_files(GEN, DAY, quirks={"sales": q}))["sales_20240220.csv"]
    assert body.startswith(BOM) and body.endswith(b"\r\n\r\n\r\n")
    header = rows(body)[0]
    assert sorted(header) == sorted(SALES_COLUMNS) and header != list(SALES_COLUMNS)
    plain = by_name(day_files(GEN, DAY, quirks={"sales": Quirks(header=False)}))
    first = rows(plain["sales_20240220.csv"])[0]
    assert first[0].startswith("HF-") and b"\r\n" not in plain["sales_20240220.csv"]
    assert b'"PO ""' in plain["sales_20240220.csv"]     # a quoted field with quotes, comma


def test_faults_spoil_the_drop_as_asked():
    clean = by_name(day_files(GEN, DAY, quirks={"sales": Quirks(header=False)}))
    ctl = dict(line.split("=") for line in clean["sales_20240220.ctl"].decode().split())
    assert int(ctl["rows"]) == len(rows(clean["sales_20240220.csv"]))
    cut = by_name(day_files(GEN, DAY, faults=Faults(truncate=True)))["sales_20240220.csv"]
    assert not cut.endswith(b"\n")
    named = by_name(day_files(GEN, DAY, faults=Faults(bad_name=True)))
    assert "sales 20.02.2024.csv" in named and "sales_20240220.csv" not in named
    spoiled = by_name(day_files(GEN, DAY, faults=Faults(malformed_lines=3),
                                quirks={"sales": Quirks(header=False)}))
    assert sum("25:61" in r[5] for r in rows(spoiled["sales_20240220.csv"])) == 3
    fixed = rows(by_name(day_files(GEN, DAY, faults=Faults(correction=True),
                                   quirks={"sales": Quirks(header=False)}))
                 ["sales_20240220.csv"])
    before = {(r[0], r[1]): r for r in rows(clean["sales_20240220.csv"])}
    after = {(r[0], r[1]): r for r in fixed}
    assert set(before) - set(after) and set(after) - set(before)      # removed and added
    assert any(after[k][6] != before[k][6] for k in set(before) & set(after))   # changed
    assert any(r[5][:10] == "2024-02-18" for r in fixed)               # re-dated


def test_drop_files_puts_a_dates_files_into_the_inbox(s3, clean_bucket, settings):
    env = {**os.environ, "RETAILER5_S3_ENDPOINT_URL": settings.s3_endpoint_url,
           "RETAILER5_S3_BUCKET": settings.s3_bucket,
           "RETAILER5_S3_ACCESS_KEY_ID": settings.s3_access_key_id,
           "RETAILER5_S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key.get_secret_value(),
           "RETAILER_ORDERS_PER_DAY": "20"}
    done = subprocess.run([str(VENV_BIN / "retailers"), "drop-files", "--date", "2024-02-20",
                           "--end", "2024-02-21", "--no-products"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix="inbox/retailer5/")
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]) == [
        "sales_20240220.csv", "sales_20240220.ctl", "sales_20240221.csv", "sales_20240221.ctl",
        "stores_20240220.csv", "stores_20240221.csv"]


def test_the_demo_drops_the_days_files_with_the_stacks_s3(s3, clean_bucket, settings):
    import types

    from rich.console import Console

    from services.ingestion.settings import get_worker_settings
    from suite.demo import drop_files

    stack = types.SimpleNamespace(ingestion_worker=get_worker_settings(), generator=GEN)
    drop_files(stack, DAY, 10, Console(quiet=True))  # type: ignore[arg-type]
    listed = s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix="inbox/retailer5/")
    assert {o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]} == {
        "sales_20240220.csv", "sales_20240220.ctl", "stores_20240220.csv",
        "products_20240220.csv"}
