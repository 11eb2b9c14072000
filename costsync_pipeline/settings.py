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


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str
    inbox_url: str
    raw_zone_url: str
    database_url_from_env: bool


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
    )
