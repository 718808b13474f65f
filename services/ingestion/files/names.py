"""What a file's name says: its retailer (the inbox folder), type and batch date.

    inbox/<retailer>/<type>_YYYYMMDD.csv     type: sales | stores | products
    inbox/<retailer>/sales_YYYYMMDD.ctl      the sales file's control total
    history/<retailer>/<type>/year=YYYY/month=MM/day=DD/<file>   after a successful load
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

FILE_TYPES = ("sales", "stores", "products")
_NAME = re.compile(r"(?P<type>sales|stores|products)_(?P<date>\d{8})\.(?P<ext>csv|ctl)")


@dataclass(frozen=True)
class FileName:
    retailer_id: str
    file_type: str
    batch_date: dt.date
    ext: str
    name: str

    @property
    def control_name(self) -> str:
        return f"{self.file_type}_{self.batch_date:%Y%m%d}.ctl"


def split_key(key: str, prefix: str) -> tuple[str, str] | None:
    """(retailer folder, file name) of an inbox key, or None when it is not one."""
    rest = key[len(prefix):] if key.startswith(prefix) else None
    if not rest or rest.count("/") != 1:
        return None
    retailer, name = rest.split("/")
    return (retailer, name) if retailer and name else None


def parse_name(retailer_id: str, name: str) -> FileName | None:
    """The file's type and batch date, or None when its name does not parse."""
    m = _NAME.fullmatch(name)
    if m is None:
        return None
    try:
        day = dt.datetime.strptime(m["date"], "%Y%m%d").date()
    except ValueError:
        return None
    return FileName(retailer_id, m["type"], day, m["ext"], name)


def history_key(history_prefix: str, f: FileName) -> str:
    """Where a loaded file is kept: by retailer, type and batch date."""
    d = f.batch_date
    return (f"{history_prefix}{f.retailer_id}/{f.file_type}/year={d:%Y}/month={d:%m}/"
            f"day={d:%d}/{f.name}")


def inbox_key(inbox_prefix: str, f: FileName, name: str | None = None) -> str:
    return f"{inbox_prefix}{f.retailer_id}/{name or f.name}"
