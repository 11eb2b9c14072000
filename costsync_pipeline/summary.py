"""The run summary: rows and total cost per table, rows rejected and why."""

from __future__ import annotations

from typing import TextIO

import sqlalchemy as sa

from costsync_pipeline.warehouse import tables as t


def collect_summary(engine: sa.Engine) -> dict:
    uc, rr, lf = t.usage_costs, t.rejected_records, t.landed_files
    with engine.connect() as conn:
        usage_rows, usage_cost = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(uc.c.cost_usd))
        ).one()
        reported = conn.execute(
            sa.select(uc.c.reported_currency, sa.func.count(), sa.func.sum(uc.c.reported_cost))
            .where(uc.c.reported_cost.is_not(None))
            .group_by(uc.c.reported_currency)
            .order_by(uc.c.reported_currency)
        ).all()
        rejected_rows = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(rr.c.file_checksum, rr.c.row_number).distinct().subquery()
            )
        ).scalar_one()
        reasons = conn.execute(
            sa.select(rr.c.reason, sa.func.count())
            .group_by(rr.c.reason)
            .order_by(sa.func.count().desc(), rr.c.reason)
        ).all()
        files = conn.execute(
            sa.select(lf.c.status, sa.func.count()).group_by(lf.c.status).order_by(lf.c.status)
        ).all()
        cs = t.cost_snapshots
        snapshots = conn.execute(
            sa.select(cs.c.billing_currency, sa.func.count(), sa.func.sum(cs.c.billed_cost))
            .group_by(cs.c.billing_currency)
            .order_by(cs.c.billing_currency)
        ).all()
        audited = conn.execute(
            sa.select(sa.func.count()).select_from(t.cost_audit_log)
        ).scalar_one()
        statuses = conn.execute(
            sa.select(uc.c.cost_status, sa.func.count(), sa.func.sum(uc.c.computed_cost_usd))
            .group_by(uc.c.cost_status)
            .order_by(uc.c.cost_status)
        ).all()
        computed = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(uc.c.computed_cost_usd)).where(
                uc.c.computed_cost_usd.is_not(None)
            )
        ).one()
        mp = t.model_prices
        live = sa.or_(mp.c.valid_to.is_(None), mp.c.valid_to > mp.c.valid_from)
        price_versions = conn.execute(sa.select(sa.func.count()).where(live)).scalar_one()
        unpriced = conn.execute(
            sa.text(
                "SELECT provider, model, requests FROM unpriced_models "
                "ORDER BY requests DESC, provider, model"
            )
        ).all()
        ca = t.cost_accuracy
        accuracy = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(ca.c.within_tolerance.is_(False)),
            )
        ).one()
    return {
        "usage_costs": {
            "rows": int(usage_rows),
            "cost_usd": usage_cost,
            "reported": [(c, int(n), s) for c, n, s in reported],
        },
        "rejected_records": {
            "rows": int(rejected_rows),
            "reasons": [(r, int(n)) for r, n in reasons],
        },
        "landed_files": {status: int(n) for status, n in files},
        "cost_snapshots": {
            "rows": sum(int(n) for _, n, _ in snapshots),
            "billed": [(c, int(n), total) for c, n, total in snapshots],
        },
        "cost_audit_log": {"rows": int(audited)},
        "costs": {
            "by_status": [(s or "none", int(n)) for s, n, _ in statuses],
            "computed_rows": int(computed[0]),
            "computed_usd": computed[1],
            "unpriced": [(p, m, int(n)) for p, m, n in unpriced],
        },
        "model_prices": {"versions": int(price_versions)},
        "cost_accuracy": {"rows": int(accuracy[0]), "breaches": int(accuracy[1])},
    }


def price_source_lines(engine: sa.Engine) -> list[str]:
    """One line per price and FX source: status, age and message (the run summary)."""
    from costsync_pipeline.landing.prices import source_states

    lines = []
    for name, s in sorted(source_states(engine).items()):
        unit = "currencies" if name.startswith("fx:") else "models"
        count = f", {s['model_count']} {unit}" if s["model_count"] is not None else ""
        fetched = (
            f", last good read {s['fetched_at']:%Y-%m-%d %H:%M} UTC" if s["fetched_at"] else ""
        )
        message = f": {s['message']}" if s["message"] else ""
        lines.append(f"{name}: {s['status']}{count}{fetched}{message}")
    return lines


def print_summary(engine: sa.Engine, out: TextIO) -> None:
    s = collect_summary(engine)
    u = s["usage_costs"]
    print("\nwarehouse:", engine.url.render_as_string(hide_password=True), file=out)
    print(f"  {'table':<18}{'rows':>8}  total cost", file=out)
    print(f"  {'usage_costs':<18}{u['rows']:>8}  {u['cost_usd'] or 0} USD (cost_usd)", file=out)
    for currency, n, total in u["reported"]:
        print(f"  {'':<18}{n:>8}  {total} {currency} reported", file=out)
    k = s["costs"]
    print(f"  {'':<18}{k['computed_rows']:>8}  {k['computed_usd'] or 0} USD computed", file=out)
    statuses = ", ".join(f"{n} {status}" for status, n in k["by_status"]) or "none"
    print(f"  {'':<18}{'':>8}  cost of record: {statuses}", file=out)
    c = s["cost_snapshots"]
    print(f"  {'cost_snapshots':<18}{c['rows']:>8}", file=out)
    for currency, n, total in c["billed"]:
        print(f"  {'':<18}{n:>8}  {total} {currency} billed", file=out)
    print(f"  {'model_prices':<18}{s['model_prices']['versions']:>8}  price versions", file=out)
    a = s["cost_accuracy"]
    print(f"  {'cost_accuracy':<18}{a['rows']:>8}  {a['breaches']} outside tolerance", file=out)
    print(f"  {'cost_audit_log':<18}{s['cost_audit_log']['rows']:>8}", file=out)
    print(f"  {'rejected_records':<18}{s['rejected_records']['rows']:>8}", file=out)
    files = ", ".join(f"{n} {status}" for status, n in s["landed_files"].items()) or "none"
    print(f"  {'landed_files':<18}{sum(s['landed_files'].values()):>8}  ({files})", file=out)
    if k["unpriced"]:
        print("models without a price (view unpriced_models), by requests:", file=out)
        for provider, model, n in k["unpriced"][:10]:
            print(f"  {n:>6}  {provider}/{model}", file=out)
    if s["rejected_records"]["reasons"]:
        print("rejected, by reason:", file=out)
        for reason, n in s["rejected_records"]["reasons"]:
            print(f"  {n:>6}  {reason}", file=out)
