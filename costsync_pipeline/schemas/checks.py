"""Vectorized value tests shared by the raw schemas of every format.

Each takes a Series as received (text from CSV, typed from Parquet or JSON) and returns a
boolean Series; missing values pass (``nullable`` decides about those).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

MISSING_TEXT = ("", "null", "none", "nan")
# The same words as written, so a trimmed column is tested with one isin, no lower-casing.
MISSING_VARIANTS = tuple({v for w in MISSING_TEXT for v in (w, w.upper(), w.title())} | {"NaN"})
TRUE_TEXT = ("true", "t", "1", "yes", "y")
FALSE_TEXT = ("false", "f", "0", "no", "n")


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or s.dtype == object


def blank_mask(s: pd.Series) -> pd.Series:
    """True where a value is missing: NA, empty, whitespace or a literal NULL/None."""
    mask = s.isna()
    if _is_text(s):
        mask = mask | s.astype("str").str.strip().isin(MISSING_VARIANTS)
    return mask.fillna(True).astype(bool)


def to_number(s: pd.Series) -> pd.Series:
    """Numbers as float64 for range checks; anything that is not a plain number becomes NaN."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64")
    text = s.astype("str").str.strip()
    return pd.to_numeric(text.where(~blank_mask(s)), errors="coerce").astype("float64")


def to_utc(s: pd.Series) -> pd.Series:
    """ISO 8601 text or datetimes to UTC; naive values are taken as UTC."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.as_unit("us")
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s.dt.tz_localize("UTC").dt.as_unit("us")
    text = s.astype("str").str.strip().where(~blank_mask(s))
    return pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601").dt.as_unit("us")


def naive_mask(s: pd.Series) -> pd.Series:
    """True where a timestamp carried no offset (and is therefore assumed to be UTC)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return pd.Series(False, index=s.index)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s.notna()
    text = s.astype("str").str.strip()
    has_offset = text.str.contains(r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$", regex=True)
    return (~has_offset.fillna(False).astype(bool)) & ~blank_mask(s)


# Counts are stored as 64-bit integers and pass through float64: beyond 2**53 neither is exact.
MAX_COUNT = 2**53


def integer_like(s: pd.Series) -> pd.Series:
    n = to_number(s)
    return blank_mask(s) | (n.notna() & (n.abs() < MAX_COUNT) & (n % 1 == 0))


def decimal_like(s: pd.Series) -> pd.Series:
    n = to_number(s)
    return blank_mask(s) | (n.notna() & np.isfinite(n))


def timestamp_like(s: pd.Series) -> pd.Series:
    return blank_mask(s) | to_utc(s).notna()


def bool_like(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(True, index=s.index)
    text = s.astype("str").str.strip().str.lower()
    return blank_mask(s) | text.isin(TRUE_TEXT + FALSE_TEXT).fillna(False).astype(bool)


def to_bool(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    text = s.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(TRUE_TEXT).fillna(False).astype(bool)] = True
    out[text.isin(FALSE_TEXT).fillna(False).astype(bool)] = False
    return out


def not_blank(s: pd.Series) -> pd.Series:
    return ~blank_mask(s)


# Named checks, so rejected_records says which rule a value broke.
NOT_BLANK = pa.Check(not_blank, name="not_blank", error="value is missing or blank")
INTEGER = pa.Check(integer_like, name="integer", error="not a whole number")
DECIMAL = pa.Check(decimal_like, name="decimal", error="not a plain decimal number")
TIMESTAMP = pa.Check(timestamp_like, name="iso8601_timestamp", error="not an ISO 8601 timestamp")
BOOLEAN = pa.Check(bool_like, name="boolean", error="not true/false")


def vocabulary_lookup(mapping: dict[str, str]):
    """A function mapping values in any case, with surrounding spaces, through ``mapping``
    (NA where blank or not a known word)."""
    lowered = {k.lower(): v for k, v in mapping.items()}

    def lookup(s: pd.Series) -> pd.Series:
        return s.astype("str").str.strip().str.lower().map(lowered).where(~blank_mask(s))

    return lookup


def known_words(mapping: dict[str, str], name: str, error: str) -> pa.Check:
    """A named check that a value is blank or one of ``mapping``'s words, in any case."""
    lookup = vocabulary_lookup(mapping)
    return pa.Check(lambda s: blank_mask(s) | lookup(s).notna(), name=name, error=error)
