"""Operator settings parsed from environment variables (the mapping is passed in).

Only ``defs/resources.py`` hands ``os.environ`` to this module. A malformed value fails at
start-up with a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from costsync_pipeline.warehouse.engine import default_database_url, make_engine

DEFAULT_INBOX = "data/inbox"
DEFAULT_RAW_ZONE = ".costsync/raw"
DEFAULT_PRICE_FEED_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
DEFAULT_PRICE_OVERRIDES = "price_overrides.json"
DEFAULT_STALENESS_SECONDS = 14400


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str
    inbox_url: str
    raw_zone_url: str
    database_url_from_env: bool
    price_feed_url: str = DEFAULT_PRICE_FEED_URL  # "off" disables the feed
    fx_feed_url: str | None = None
    price_overrides_path: str = DEFAULT_PRICE_OVERRIDES
    staleness_seconds: int = DEFAULT_STALENESS_SECONDS


def _url(env: Mapping[str, str], name: str, default: str | None, cwd: Path) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return default
    if value.lower() == "off" or "://" in value:
        return value
    if not value.startswith(("http:", "https:")):
        return _location(value, cwd)  # a local file: an offline copy
    raise SettingsError(f"{name}={value!r} is not a URL (http://, https://, file://) or a path")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise SettingsError(f"{name}={value!r} is not a whole number of seconds above 0")
    return number


def _location(value: str, cwd: Path) -> str:
    """Local paths become absolute (runs may start elsewhere); URLs stay as they are."""
    if "://" in value:
        return value
    return str((cwd / value).resolve())


def load_settings(env: Mapping[str, str], cwd: Path | None = None) -> Settings:
    cwd = cwd or Path.cwd()
    url = env.get("COSTSYNC_DATABASE_URL", "").strip()
    if url:
        try:
            make_engine(url).dispose()
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
    inbox = env.get("COSTSYNC_INBOX", "").strip() or DEFAULT_INBOX
    raw = env.get("COSTSYNC_RAW_ZONE", "").strip() or DEFAULT_RAW_ZONE
    return Settings(
        database_url=url or default_database_url(cwd),
        inbox_url=_location(inbox, cwd),
        raw_zone_url=_location(raw, cwd),
        database_url_from_env=bool(url),
        price_feed_url=_url(env, "COSTSYNC_PRICE_FEED_URL", DEFAULT_PRICE_FEED_URL, cwd),
        fx_feed_url=_url(env, "COSTSYNC_FX_FEED_URL", None, cwd),
        price_overrides_path=_location(
            env.get("COSTSYNC_PRICE_OVERRIDES", "").strip() or DEFAULT_PRICE_OVERRIDES, cwd
        ),
        staleness_seconds=_positive_int(
            env, "MODEL_COST_STALENESS_SECONDS", DEFAULT_STALENESS_SECONDS
        ),
    )
