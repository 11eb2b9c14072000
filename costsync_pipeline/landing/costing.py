"""The costs of usage rows as they land: USD value of the reported cost, the computed cost at
the price valid when the request happened, and the cost of record.

* ``reported_cost_usd``: the reported cost, converted with the latest FX rate on or before
  the usage day when it is not in USD; with no rate it stays empty (``cost_status``
  ``no_fx_rate``), never treated as USD.
* ``computed_cost_usd`` / ``price_version`` / ``price_status``: ``transforms.pricing``
  (``no_price`` when no price matches; the row still lands).
* ``cost_usd``: reported when the source reports a cost, else computed. ``cost_status``
  says which (``reported``, ``computed``) or why it is empty (``no_fx_rate``, or the
  ``price_status`` of a request that reports no cost: ``no_price``, ...).

The prices and rates for a window are loaded once (``Costing.load``) and applied to every
validated chunk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing.fx import load_rates
from costsync_pipeline.landing.prices import load_prices, recost_generation
from costsync_pipeline.sources.fx import to_usd, usd_rates
from costsync_pipeline.transforms.pricing import PriceBook, price_usage

COST_COLUMNS = (
    "reported_cost_usd",
    "computed_cost_usd",
    "price_version",
    "price_status",
    "cost_usd",
    "cost_status",
)


@dataclass
class Costing:
    book: PriceBook
    rates: pd.DataFrame
    generation: int = 0  # the re-cost requests these prices answer

    @classmethod
    def load(cls, engine: sa.Engine, start: dt.date, end: dt.date) -> Costing:
        """Every price version (not only the window's: which price key a name matches must
        not depend on the days landed together), and every FX rate up to ``end``."""
        generation = recost_generation(engine)  # first: see recost_generation
        with engine.connect() as conn:
            book = PriceBook.from_frame(load_prices(conn))
        return cls(book, load_rates(engine, end), generation)

    def apply(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` (normalized usage) with the cost columns filled in."""
        out = rows.copy()
        reported = rows["reported_cost"].astype("str")
        currency = rows["reported_currency"].astype("str")
        is_usd = (currency == "USD").fillna(False).astype(bool)
        foreign = reported.notna() & ~is_usd
        reported_usd = reported.where(is_usd)
        if foreign.any():
            rate = usd_rates(currency[foreign], rows.loc[foreign, "usage_date"], self.rates)
            reported_usd = reported_usd.astype(object)
            reported_usd.loc[foreign] = to_usd(reported[foreign], rate).astype(object)
            reported_usd = reported_usd.astype("str")
        priced = price_usage(rows, self.book)
        computed = priced["computed_cost_usd"].astype("str")
        held = foreign & reported_usd.isna()
        has_reported = reported.notna()
        status = pd.Series("computed", index=rows.index, dtype="str")
        status = status.mask(computed.isna(), priced["price_status"].astype("str"))
        status = status.mask(has_reported, "reported")
        status = status.mask(held, "no_fx_rate")
        out["reported_cost_usd"] = reported_usd
        out["computed_cost_usd"] = computed
        out["price_version"] = priced["price_version"].astype("str")
        out["price_status"] = priced["price_status"].astype("str")
        out["cost_usd"] = reported_usd.where(has_reported, computed)
        out["cost_status"] = status
        return out
