"""retailer5's CSV rows -> canonical records (the file contract of docs/retailers.md).

A file may start with a header (detected: its first record names known columns, the key
column among them) naming its columns in any order; without one, the columns are in the
contract's order. Each sales row is one order line carrying its order's fields and
lifecycle timestamps: the line becomes an `order_lines` record, and the first line of each
order its `orders` record and `order_events`. A row that cannot be read is rejected with its
line number and reason; the rest load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from services.ingestion.normalize import Batch, Handler, Normalizer, readable_money
from shared import canonical as c
from shared.canonical import InvalidRecord, RejectReason

RETAILER_ID = "retailer5"
CURRENCY = "GBP"

COLUMNS: dict[str, tuple[str, ...]] = {
    "sales": ("order_id", "line_number", "customer_id", "store_id", "product_id",
              "created_at", "quantity", "unit_price", "discount", "line_total", "currency",
              "order_total", "paid_at", "shipped_at", "delivered_at", "canceled_at",
              "refunded_at", "customer_reference"),
    "stores": ("store_id", "store_name", "channel", "city", "region", "country"),
    "products": ("product_id", "product_name", "category", "list_price", "currency"),
}
KEY_COLUMN = {"sales": "order_id", "stores": "store_id", "products": "product_id"}
MILESTONES = (("paid_at", "paid"), ("shipped_at", "shipped"), ("delivered_at", "delivered"),
              ("canceled_at", "canceled"), ("refunded_at", "refunded"))
# The order's status is its latest milestone in this order of precedence.
STATUS_ORDER = ("refunded", "canceled", "delivered", "shipped", "paid")
CHANNELS = {"web": "web", "store": "store", "app": "app", "marketplace": "marketplace",
            "depot": "store", "cash & carry": "store", "trade portal": "web"}


class BadHeader(ValueError):
    """A header that lacks a column the contract requires."""


class FileNormalizer(Normalizer):
    """One file's rows, for one batch date. Counts and rejections as every normalizer."""

    retailer_id = RETAILER_ID
    currency = CURRENCY

    def __init__(self, day: dt.date, kind: str, lookback_days: int) -> None:
        super().__init__(day)
        self.kind = kind
        self.earliest = (day - dt.timedelta(days=lookback_days)).isoformat()
        self.index: dict[str, int] | None = None
        self.width = 0
        self.header = False
        self._last_order: str | None = None
        self._last_created: tuple[str | None, str] = (None, "")
        self._currencies: dict[str, str] = {}     # a file has one or two currencies
        # what the file holds, for its control total: data rows and their amounts
        self.rows = 0
        self.cents = 0
        self.unknown_amounts = 0
        self.last_row_malformed = False
        self._row = {"sales": self._sales, "stores": self._store,
                     "products": self._product}[kind]

    def handlers(self) -> Mapping[str, Handler]:
        return {}

    def take(self) -> Batch:
        """The records normalized since the last call."""
        return self._take()

    def feed(self, line_no: int, fields: list[str]) -> None:
        """One CSV record of the file (the first may be its header)."""
        if self.index is None:
            if self._detect_header(fields):
                return
        self.rows += 1
        self.last_row_malformed = len(fields) != self.width
        if self.last_row_malformed:
            record = {"line": line_no, "fields": fields}
            amount = None
            if self.kind == "sales":
                self.unknown_amounts += 1
            self.reject(self._entity, InvalidRecord(
                RejectReason.MALFORMED_RECORD,
                f"line {line_no}: {len(fields)} fields, expected {self.width}"),
                record, None, amount=amount)
            return
        self._row(line_no, fields)

    @property
    def _entity(self) -> str:
        return {"sales": "order_lines", "stores": "stores", "products": "products"}[self.kind]

    def _detect_header(self, fields: Sequence[str]) -> bool:
        columns = COLUMNS[self.kind]
        names = [f.strip().lower().lstrip("\ufeff") for f in fields]
        if KEY_COLUMN[self.kind] in names and len(set(names) & set(columns)) >= len(names) // 2:
            missing = [col for col in columns if col not in names
                       and col != "customer_reference"]
            if missing:
                raise BadHeader(f"the header lacks {', '.join(missing)}")
            self.index = {n: i for i, n in enumerate(names)}
            self.width = len(names)
            for n in names:
                if n not in columns:
                    self.unknown_fields[f"{self.kind}.{n}"] += 1
            self.header = True
            return True
        self.index = {n: i for i, n in enumerate(columns)}
        self.width = len(columns)
        return False

    # -- the three kinds of file --------------------------------------------------------

    def _sales(self, line_no: int, f: list[str]) -> None:
        ix = self.index
        assert ix is not None
        amount = readable_money(f[ix["line_total"]])
        if amount is None:
            self.unknown_amounts += 1
        else:
            self.cents += c.money_to_cents(amount)
        record_key = f"{f[ix['order_id']].strip()}:{f[ix['line_number']].strip()}"
        try:
            order_id = c.key(f[ix["order_id"]], "order_id")
            raw_created = f[ix["created_at"]]
            if raw_created == self._last_created[0]:
                created = self._last_created[1]   # an order's lines repeat its created_at
            else:
                created = c.timestamp(raw_created.strip(), "created_at")
                if not self.earliest <= created[:10] <= self.day_text:
                    raise InvalidRecord(RejectReason.BAD_TIMESTAMP,
                                        f"created_at={created} is outside the batch's window "
                                        f"{self.earliest}..{self.day_text}", "created_at")
                self._last_created = (raw_created, created)
            raw_currency = f[ix["currency"]]
            currency = self._currencies.get(raw_currency) or c.currency(raw_currency)
            self._currencies[raw_currency] = currency
            line = {
                "retailer_id": RETAILER_ID, "order_id": order_id,
                "line_number": c.integer(f[ix["line_number"]], "line_number"),
                "product_id": c.key(f[ix["product_id"]], "product_id"), "created_at": created,
                "quantity": c.quantity(f[ix["quantity"]]),
                "unit_price": c.money(f[ix["unit_price"]].strip(), "unit_price"),
                "discount": c.money(f[ix["discount"]].strip() or "0", "discount"),
                "line_total": c.money(f[ix["line_total"]].strip(), "line_total"),
                "currency": currency,
            }
            order = None
            if order_id != self._last_order:
                events = []
                for column, event_type in MILESTONES:
                    value = f[ix[column]].strip()
                    if value:
                        events.append((event_type, c.timestamp(value, column)))
                happened = {e for e, _ in events}
                status = next((s for s in STATUS_ORDER if s in happened), "created")
                order = {"retailer_id": RETAILER_ID, "order_id": order_id,
                         "customer_id": c.key(f[ix["customer_id"]], "customer_id"),
                         "store_id": c.key(f[ix["store_id"]], "store_id"),
                         "created_at": created, "status": status, "currency": currency,
                         "order_total": c.money(f[ix["order_total"]].strip(), "order_total")}
        except Exception as exc:  # noqa: BLE001 - every failure becomes a rejection
            error = exc if isinstance(exc, InvalidRecord) else InvalidRecord(
                RejectReason.MALFORMED_RECORD, str(exc))
            error = InvalidRecord(error.reason, f"line {line_no}: {error.detail}", error.field)
            self.reject("order_lines", error, {"line": line_no, **self._named(f)}, record_key,
                        amount=amount, currency=CURRENCY)
            return
        self.emit("order_lines", line)
        if order is not None:
            self._last_order = order_id
            self.emit("orders", order)
            for event_type, at in events:
                self.emit("order_events", {"retailer_id": RETAILER_ID, "order_id": order_id,
                                           "event_type": event_type, "occurred_at": at})

    def _store(self, line_no: int, f: list[str]) -> None:
        ix = self.index
        assert ix is not None
        try:
            record = {"retailer_id": RETAILER_ID,
                      "store_id": c.key(f[ix["store_id"]], "store_id"),
                      "store_name": c.text_or_none(f[ix["store_name"]]),
                      "channel": c.code(f[ix["channel"]], "channel", CHANNELS,
                                        RejectReason.UNKNOWN_CHANNEL),
                      "city": c.text_or_none(f[ix["city"]]),
                      "region": c.text_or_none(f[ix["region"]]),
                      "country": c.text_or_none(f[ix["country"]])}
        except InvalidRecord as exc:
            self.reject("stores", InvalidRecord(exc.reason, f"line {line_no}: {exc.detail}",
                                                exc.field),
                        {"line": line_no, **self._named(f)}, f[ix["store_id"]] or None)
            return
        self.emit("stores", record)

    def _product(self, line_no: int, f: list[str]) -> None:
        ix = self.index
        assert ix is not None
        try:
            record = {"retailer_id": RETAILER_ID,
                      "product_id": c.key(f[ix["product_id"]], "product_id"),
                      "product_name": c.text_or_none(f[ix["product_name"]]),
                      "category": c.text_or_none(f[ix["category"]]),
                      "list_price": c.money(f[ix["list_price"]].strip(), "list_price"),
                      "currency": c.currency(f[ix["currency"]]),
                      "valid_from": f"{self.day_text}T00:00:00Z"}
        except InvalidRecord as exc:
            self.reject("products", InvalidRecord(exc.reason, f"line {line_no}: {exc.detail}",
                                                  exc.field),
                        {"line": line_no, **self._named(f)}, f[ix["product_id"]] or None)
            return
        self.emit("products", record)

    def _named(self, f: list[str]) -> dict[str, str]:
        assert self.index is not None
        return {name: f[i] for name, i in self.index.items() if i < len(f)}
