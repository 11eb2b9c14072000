"""Checks on prices: every source fresh, one valid price per key and instant, accuracy."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from costsync_pipeline.landing.prices import source_states
from costsync_pipeline.quality.usage import CheckOutcome
from costsync_pipeline.warehouse import tables as t

# Sources whose age matters: the ones read on a schedule (files in the inbox arrive when they
# arrive, and the bundled files change with a release).
REFRESHED_SOURCES = ("feed", "fx:feed")


def source_ages(engine: sa.Engine, now: dt.datetime) -> dict[str, float | None]:
    """Seconds since each source was last read successfully (None: never)."""
    return {
        name: (now - s["fetched_at"]).total_seconds() if s["fetched_at"] else None
        for name, s in source_states(engine).items()
    }


def expected_sources(feed_url: str, fx_feed_url: str | None) -> tuple[str, ...]:
    """The refreshed sources the configuration switches on."""
    return tuple(
        name
        for name, on in (("feed", feed_url.strip().lower() != "off"), ("fx:feed", fx_feed_url))
        if on
    )


def stale_sources(
    engine: sa.Engine, now: dt.datetime, max_age_seconds: int, expected: tuple[str, ...] = ()
) -> dict[str, str]:
    """Refreshed sources (not switched off) whose last good read is older than the limit;
    an ``expected`` source with no read on record at all is stale too."""
    states = source_states(engine)
    out = {name: "never read" for name in expected if name not in states}
    for name, s in states.items():
        if name not in REFRESHED_SOURCES or s["status"] == "off":
            continue
        if s["fetched_at"] is None:
            out[name] = f"never read successfully ({s['status']}: {s['message']})"
        elif (age := (now - s["fetched_at"]).total_seconds()) > max_age_seconds:
            out[name] = f"last read {age / 3600:.1f} h ago ({s['status']}: {s['message']})"
    return out


def prices_fresh(
    engine: sa.Engine, now: dt.datetime, max_age_seconds: int, expected: tuple[str, ...] = ()
) -> CheckOutcome:
    stale = stale_sources(engine, now, max_age_seconds, expected)
    ages = source_ages(engine, now)
    return CheckOutcome(
        "prices_fresh",
        not stale,
        f"every refreshed price and FX source was read in the last {max_age_seconds} s "
        "(MODEL_COST_STALENESS_SECONDS)",
        {
            **{f"age_seconds/{k}": round(v, 1) if v is not None else -1 for k, v in ages.items()},
            "stale": "; ".join(f"{k}: {v}" for k, v in stale.items()) or "none",
        },
        blocking=False,
    )


def source_read(name: str, status: str, message: str | None) -> CheckOutcome:
    """A source that could not be read: a warning, the run goes on with known prices."""
    return CheckOutcome(
        f"{name.replace(':', '_')}_read",
        status in ("ok", "off", "missing", "unchanged"),
        f"the {name} source was read (or is switched off)",
        {"status": status, "message": message or ""},
        blocking=False,
    )


def one_price_per_instant(engine: sa.Engine) -> CheckOutcome:
    """No two live versions of one key overlap in time (the history's invariant)."""
    a, b = t.model_prices.alias("a"), t.model_prices.alias("b")
    live = lambda x: sa.or_(x.c.valid_to.is_(None), x.c.valid_to > x.c.valid_from)  # noqa: E731
    overlap = sa.and_(
        a.c.provider == b.c.provider,
        a.c.model == b.c.model,
        a.c.service_tier == b.c.service_tier,
        a.c.min_prompt_tokens == b.c.min_prompt_tokens,
        a.c.version < b.c.version,
        live(a),
        live(b),
        sa.or_(b.c.valid_to.is_(None), a.c.valid_from < b.c.valid_to),
        sa.or_(a.c.valid_to.is_(None), b.c.valid_from < a.c.valid_to),
    )
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(a.join(b, overlap))).scalar_one()
        versions = conn.execute(sa.select(sa.func.count()).select_from(t.model_prices))
        total = versions.scalar_one()
    return CheckOutcome(
        "one_price_per_instant",
        n == 0,
        "at most one price row per provider, model, tier and threshold is valid at any instant",
        {"overlapping_pairs": int(n), "versions": int(total)},
    )


def cost_within_tolerance(rows: list[dict], top: int = 10) -> CheckOutcome:
    breaches = [r for r in rows if r["within_tolerance"] is False]
    breaches.sort(key=lambda r: -abs(r["difference_usd"]))
    return CheckOutcome(
        "cost_within_tolerance",
        not breaches,
        "computed cost is within the tolerance of the reported cost for every day, provider "
        "and model",
        {
            "groups": len(rows),
            "groups_compared": sum(1 for r in rows if r["compared_requests"]),
            "breaches": len(breaches),
            "worst_breaches": "; ".join(
                f"{r['usage_date']} {r['provider']}/{r['model']}: reported "
                f"{r['reported_cost_usd']}, computed {r['computed_cost_usd']}"
                for r in breaches[:top]
            )
            or "none",
        },
        blocking=False,
    )
