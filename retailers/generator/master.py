"""Master data, generated once per seed: stores, products with their whole price history,
customers with every change of their attributes over the simulated calendar.

Price changes and customer changes are drawn per day from that day's own stream, so the
catalog "as of D" is a fact of the seed, not of which dates were seeded. Storing the whole
history up front is what lets the API answer "as of the end of D" for any D, and order
lines always carry the price their product had at the moment of the order.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from retailers.generator.calendar import DAY, SIM_END, SIM_START, Stream, day_start, days, rng
from retailers.generator.profile import RetailerProfile

# Bump when the generated data changes shape, so stored master data is rebuilt.
GENERATOR_VERSION = 1
# Shares of customers who signed up before the simulated calendar starts; the rest sign up
# over the calendar, so some customers are "created" on any date.
EARLY_SIGNUP_SHARE = 0.4
ONLINE_ORDER_SHARE = 0.3
PRODUCT_ZIPF = 1.05
CUSTOMER_ZIPF = 0.75
# Largest product number a retailer's codes have room for (unknown SKUs go up to 10x).
MAX_PRODUCTS = 99_999


@dataclass(frozen=True)
class Volumes:
    """The settings master data depends on (its fingerprint, with the seed)."""

    seed: int
    products: int
    customers: int
    stores: int
    fault_rate: float
    price_change_rate: float
    customer_change_rate: float


@dataclass(frozen=True)
class Stores:
    store_no: np.ndarray          # int32, 1..S
    kind: list[str]
    name: list[str]
    place_idx: np.ndarray         # index into profile.places
    weight: np.ndarray            # share of orders, sums to 1


@dataclass(frozen=True)
class Products:
    product_no: np.ndarray        # int32, 1..P
    name: list[str]
    category: list[str]
    created_s: np.ndarray         # int64 seconds since 2000-01-01
    base_price: np.ndarray        # int64 cents
    popularity: np.ndarray        # float64, sums to 1 (Zipf-like over a random ranking)


@dataclass(frozen=True)
class PriceHistory:
    """Every price of every product, sorted by (product_no, valid_from_s)."""

    product_no: np.ndarray        # int32
    valid_from_s: np.ndarray      # int64
    price: np.ndarray             # int64 cents

    @cached_property
    def _key(self) -> np.ndarray:
        return (self.product_no.astype(np.int64) << 32) | self.valid_from_s

    def price_at(self, product_no: np.ndarray, at_s: np.ndarray) -> np.ndarray:
        """The price of each product at each moment (every product has a first price
        from before the calendar starts)."""
        query = (product_no.astype(np.int64) << 32) | at_s.astype(np.int64)
        return self.price[np.searchsorted(self._key, query, side="right") - 1]


@dataclass(frozen=True)
class Customers:
    customer_no: np.ndarray       # int32, 1..C in sign-up order
    signup_s: np.ndarray          # int64, ascending
    loyalty: np.ndarray           # float64 weight: a few customers order a lot
    first_idx: np.ndarray         # attributes at sign-up, indexes into the profile
    last_idx: np.ndarray
    place_idx: np.ndarray
    domain_idx: np.ndarray
    email_missing: np.ndarray     # bool: the "missing emails" fault


@dataclass(frozen=True)
class CustomerVersions:
    """Every version of every customer's attributes (the first at sign-up)."""

    customer_no: np.ndarray
    valid_from_s: np.ndarray
    first_name: list[str]
    last_name: list[str]
    email: list[str | None]
    place_idx: np.ndarray


@dataclass
class MasterData:
    profile: RetailerProfile
    volumes: Volumes
    stores: Stores
    products: Products
    prices: PriceHistory
    customers: Customers
    _versions: CustomerVersions | None = field(default=None, repr=False)

    def fingerprint(self) -> dict[str, object]:
        """What identifies this master data; stored master data with another is rebuilt."""
        return {"generator_version": GENERATOR_VERSION, "retailer_no": self.profile.retailer_no,
                **self.volumes.__dict__}

    def customer_versions(self) -> CustomerVersions:
        """Built on demand: only writing master data needs the attribute history."""
        if self._versions is None:
            self._versions = _customer_versions(self.profile, self.volumes, self.customers)
        return self._versions


@lru_cache(maxsize=8)
def build_master(profile: RetailerProfile, volumes: Volumes) -> MasterData:
    """The master data of one retailer for one seed and volume setting.

    Deterministic, so it is built once per process and shared by every later seed call.
    """
    if not 1 <= volumes.products <= MAX_PRODUCTS:
        raise ValueError(f"products must be within 1..{MAX_PRODUCTS}")
    if volumes.customers < 1 or volumes.stores < 1:
        raise ValueError("customers and stores must be at least 1")
    products = _products(profile, volumes)
    return MasterData(
        profile=profile, volumes=volumes, stores=_stores(profile, volumes), products=products,
        prices=_price_history(profile, volumes, products), customers=_customers(profile, volumes),
    )


def _stores(profile: RetailerProfile, v: Volumes) -> Stores:
    r = rng(v.seed, profile.retailer_no, Stream.STORES)
    n = v.stores
    other_kinds = profile.store_kinds[1:]
    w = np.array(profile.store_kind_weights[1:], dtype=float)
    kinds = [profile.store_kinds[0]] + [other_kinds[i] for i in
                                        r.choice(len(other_kinds), n - 1, p=w / w.sum())]
    place_w = np.array([p.weight for p in profile.places])
    place_idx = r.choice(len(profile.places), n, p=place_w / place_w.sum())
    place_idx[0] = 0  # the online channel sits at headquarters
    names: list[str] = []
    seen: dict[str, int] = {}
    for kind, p in zip(kinds, place_idx, strict=True):
        base = (f"{profile.brand} {profile.places[p].city}" if kind in profile.physical_kinds
                else f"{profile.brand} {kind.title()}")
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
    weight = r.lognormal(0.0, 0.4, n)
    if n > 1:
        weight[1:] *= (1 - ONLINE_ORDER_SHARE) / weight[1:].sum()
        weight[0] = ONLINE_ORDER_SHARE
    return Stores(np.arange(1, n + 1, dtype=np.int32), kinds, names, place_idx,
                  weight / weight.sum())


def _products(profile: RetailerProfile, v: Volumes) -> Products:
    r = rng(v.seed, profile.retailer_no, Stream.PRODUCTS)
    n = v.products
    cats = profile.categories
    cat_w = np.array([c.weight for c in cats])
    cat_idx = r.choice(len(cats), n, p=cat_w / cat_w.sum())
    noun_pick = r.integers(0, 1 << 30, n)
    adj_idx = r.integers(0, len(profile.adjectives), n)
    medians = np.array([c.median_price for c in cats])[cat_idx]
    base = shelf_price(medians * r.lognormal(0.0, 0.45, n), profile.price_ending)
    start = day_start(SIM_START)
    created = r.integers(start - 3 * 365 * DAY, start, n)
    ranks = r.permutation(n)
    popularity = 1.0 / (ranks + 1.0) ** PRODUCT_ZIPF
    names = [f"{profile.adjectives[a]} {cats[c].nouns[k % len(cats[c].nouns)]}"
             for a, c, k in zip(adj_idx.tolist(), cat_idx.tolist(), noun_pick.tolist(),
                                strict=True)]
    return Products(np.arange(1, n + 1, dtype=np.int32), names,
                    [cats[c].name for c in cat_idx.tolist()], created.astype(np.int64), base,
                    popularity / popularity.sum())


def shelf_price(amount: np.ndarray, ending: int) -> np.ndarray:
    """Shelf prices: whole currency units plus the retailer's ending (12.99, 12.95)."""
    return np.maximum(np.floor(amount), 0).astype(np.int64) * 100 + ending


def _price_history(profile: RetailerProfile, v: Volumes, products: Products) -> PriceHistory:
    parts_no = [products.product_no]
    parts_at = [products.created_s]
    parts_price = [products.base_price]
    n = len(products.product_no)
    for i, d in enumerate(days(SIM_START, SIM_END)):
        r = rng(v.seed, profile.retailer_no, Stream.PRICES, i)
        k = r.binomial(n, v.price_change_rate)
        if k == 0:
            continue
        chosen = r.choice(n, k, replace=False)
        # A new price is a move from the base price, not from yesterday's: so it never
        # depends on history and prices cannot drift away over five years.
        factor = r.uniform(0.8, 1.25, k)
        parts_no.append(products.product_no[chosen])
        parts_at.append(day_start(d) + r.integers(0, DAY, k))
        parts_price.append(shelf_price(products.base_price[chosen] / 100 * factor,
                                        profile.price_ending))
    no = np.concatenate(parts_no).astype(np.int32)
    at = np.concatenate(parts_at).astype(np.int64)
    price = np.concatenate(parts_price).astype(np.int64)
    order = np.lexsort((at, no))
    return PriceHistory(no[order], at[order], price[order])


def _customers(profile: RetailerProfile, v: Volumes) -> Customers:
    r = rng(v.seed, profile.retailer_no, Stream.CUSTOMERS)
    n = v.customers
    start = day_start(SIM_START)
    end = day_start(SIM_END) + DAY
    early = r.random(n) < EARLY_SIGNUP_SHARE
    signup = np.where(early, r.integers(start - 2 * 365 * DAY, start, n), r.integers(start, end, n))
    signup.sort()  # customer numbers are handed out in sign-up order
    ranks = r.permutation(n)
    place_w = np.array([p.weight for p in profile.places])
    faults = rng(v.seed, profile.retailer_no, Stream.MASTER_FAULTS)
    return Customers(
        customer_no=np.arange(1, n + 1, dtype=np.int32),
        signup_s=signup.astype(np.int64),
        loyalty=1.0 / (ranks + 1.0) ** CUSTOMER_ZIPF,
        first_idx=r.integers(0, len(profile.first_names), n),
        last_idx=r.integers(0, len(profile.last_names), n),
        place_idx=r.choice(len(profile.places), n, p=place_w / place_w.sum()),
        domain_idx=r.integers(0, len(profile.email_domains), n),
        email_missing=faults.random(n) < v.fault_rate,
    )


def _customer_versions(profile: RetailerProfile, v: Volumes, c: Customers) -> CustomerVersions:
    """Replay the calendar: each day some signed-up customers move, change their email or
    their name. Each change is a full snapshot of the attributes (a new version)."""
    last = c.last_idx.copy()
    place = c.place_idx.copy()
    domain = c.domain_idx.copy()
    nonce = np.zeros(len(c.customer_no), dtype=np.int64)
    rows = [(c.customer_no - 1, c.signup_s, c.last_idx.copy(), c.place_idx.copy(),
             c.domain_idx.copy(), nonce.copy())]
    for i, d in enumerate(days(SIM_START, SIM_END)):
        eligible = int(np.searchsorted(c.signup_s, day_start(d)))
        r = rng(v.seed, profile.retailer_no, Stream.CUSTOMER_CHANGES, i)
        k = r.binomial(eligible, v.customer_change_rate) if eligible else 0
        if k == 0:
            continue
        who = r.choice(eligible, k, replace=False)
        kind = r.choice(3, k, p=[0.5, 0.3, 0.2])  # move, new email, new last name
        moved = kind == 0
        place[who[moved]] = r.integers(0, len(profile.places), int(moved.sum()))
        renamed = kind == 2
        last[who[renamed]] = r.integers(0, len(profile.last_names), int(renamed.sum()))
        new_mail = kind >= 1  # a new last name comes with a new address
        domain[who[new_mail]] = r.integers(0, len(profile.email_domains), int(new_mail.sum()))
        nonce[who[new_mail]] += 1
        at = day_start(d) + r.integers(0, DAY, k)
        rows.append((who, at, last[who], place[who], domain[who], nonce[who]))
    idx = np.concatenate([r[0] for r in rows])
    at = np.concatenate([r[1] for r in rows]).astype(np.int64)
    last_v = np.concatenate([r[2] for r in rows])
    place_v = np.concatenate([r[3] for r in rows])
    domain_v = np.concatenate([r[4] for r in rows])
    nonce_v = np.concatenate([r[5] for r in rows])
    order = np.lexsort((at, idx))
    idx, at, last_v, place_v, domain_v, nonce_v = (a[order] for a in
                                                   (idx, at, last_v, place_v, domain_v, nonce_v))
    firsts = [profile.first_names[f] for f in c.first_idx[idx].tolist()]
    lasts = [profile.last_names[n] for n in last_v.tolist()]
    missing = c.email_missing[idx].tolist()
    emails = [None if miss else
              f"{_ascii(first)}.{_ascii(last_name)}{'' if k == 0 else k}@"
              f"{profile.email_domains[dom]}"
              for first, last_name, k, dom, miss in
              zip(firsts, lasts, nonce_v.tolist(), domain_v.tolist(), missing, strict=True)]
    return CustomerVersions(c.customer_no[idx], at, firsts, lasts, emails, place_v)


def _ascii(name: str) -> str:
    """`Élodie` -> `elodie`, for email addresses."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text.lower() if ch.isalnum())
