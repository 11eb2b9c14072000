"""FX rates to USD: the bundled CSV, the ECB's reference-rate XML, seed 002's ZAR rate, and
the vectorized lookup and conversion used on every usage row.

A rate is ``rate_to_usd``: USD per ONE unit of the currency, a Decimal with at most 18
decimal places (the warehouse's ``fx_rates.rate_to_usd`` is NUMERIC(30, 18)). A row's rate is
the latest one on or before the row's date; USD is always 1. No Dagster import.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Q18 = Decimal("1e-18")
Q12 = Decimal("1e-12")
FX_COLUMNS = ("currency", "rate_to_usd", "as_of_date")
# Enough digits for r_USD / r_C to be exact to 18 places before quantizing.
_CTX = Context(prec=60, rounding=ROUND_HALF_EVEN)
_CODE = re.compile(r"[A-Z]{3}")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ONE_TEXT = "1.000000000000000000"
_EPOCH = date(1970, 1, 1)
_AMOUNT = pa.decimal256(37, 18)  # 37 + 38 + 1 = 76 digits: the product fits decimal256
_RATE = pa.decimal256(38, 18)


@dataclass(frozen=True)
class FxRate:
    currency: str  # ISO 4217, upper-case
    rate_to_usd: Decimal  # USD per one unit of the currency
    as_of_date: date
    source: str

    def __post_init__(self):
        if not isinstance(self.currency, str) or not _CODE.fullmatch(self.currency):
            raise ValueError(f"FxRate: currency {self.currency!r} is not an ISO 4217 code")
        rate = self.rate_to_usd
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
            raise ValueError(f"FxRate {self.currency}: rate_to_usd {rate!r} is not a Decimal > 0")
        if not isinstance(self.as_of_date, date) or isinstance(self.as_of_date, datetime):
            day = self.as_of_date
            raise ValueError(f"FxRate {self.currency}: as_of_date {day!r} is not a date")


def _positive(text: str) -> Decimal | None:
    """The exact value of plain decimal text (no sign, no exponent) when it is > 0."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = Decimal(text)
    return value if value > 0 else None


def _iso_date(text: str) -> date | None:
    text = text.strip()
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --- the bundled CSV ------------------------------------------------------------------------


def read_fx_csv(data: bytes, name: str) -> tuple[list[FxRate], list[str]]:
    """Rates from ``currency,rate_to_usd,as_of_date[,source]`` CSV, and one problem per bad
    cell ("rates.csv row 4, column rate_to_usd: 'abc' is not a positive number"; the header
    is row 1). Bad rows are left out, good rows kept; a second rate for the same currency and
    day is a problem too (the first is kept). A missing column raises ValueError. A blank
    ``source`` is the file's ``name``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    columns = [cell.strip().lower() for cell in header or []]
    missing = [col for col in FX_COLUMNS if col not in columns]
    if missing:
        found = ", ".join(columns) if columns else "none: the file is empty"
        raise ValueError(f"{name}: missing column {', '.join(missing)} (columns: {found})")
    at = {col: columns.index(col) for col in (*FX_COLUMNS, "source") if col in columns}
    rates: list[FxRate] = []
    problems: list[str] = []
    first_row: dict[tuple[str, date], int] = {}
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {col: (row[i].strip() if i < len(row) else "") for col, i in at.items()}
        currency = cells["currency"].upper()
        rate = _positive(cells["rate_to_usd"])
        day = _iso_date(cells["as_of_date"])
        bad = []
        if not _CODE.fullmatch(currency):
            bad.append(("currency", "is not a 3-letter ISO 4217 code"))
        if rate is None:
            bad.append(("rate_to_usd", "is not a positive number"))
        if day is None:
            bad.append(("as_of_date", "is not a date (YYYY-MM-DD)"))
        for col, why in bad:
            problems.append(f"{name} row {row_number}, column {col}: {cells[col]!r} {why}")
        if bad:
            continue
        if (currency, day) in first_row:
            earlier = first_row[currency, day]
            problems.append(
                f"{name} row {row_number}: a second {currency} rate for {day} "
                f"(row {earlier} is kept)"
            )
            continue
        first_row[currency, day] = row_number
        rates.append(FxRate(currency, rate, day, cells.get("source") or name))
    return rates, problems


def format_fx_csv(rates: Iterable[FxRate]) -> str:
    """The CSV ``read_fx_csv`` reads, rates written exactly (without trailing zeros)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FX_COLUMNS, "source"])
    for r in rates:
        text = format(r.rate_to_usd.normalize(), "f")
        writer.writerow([r.currency, text, r.as_of_date.isoformat(), r.source])
    return out.getvalue()


# --- the ECB's reference rates --------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_ecb_xml(data: bytes, source: str = "ecb") -> list[FxRate]:
    """Rates to USD from the ECB's ``eurofxref-daily.xml`` / ``eurofxref-hist*.xml``.

    The ECB quotes 1 EUR = r units of each currency, so EUR is r_USD, a currency C is
    r_USD / r_C (to 18 places, half-even) and USD is 1, each with ``source`` =
    ``"<source>:<day>"``. A day without a USD quote is skipped; a document that is not
    well-formed or not ECB-shaped raises ValueError naming ``source``. (The stdlib parser
    fetches no external entities and expat refuses entity blow-ups; the body's size is capped
    by ``fetch``.)
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"{source}: not well-formed XML ({exc})") from None
    days = [el for el in root.iter() if _local(el.tag) == "Cube" and "time" in el.attrib]
    if not days:
        raise ValueError(f"{source}: no <Cube time='YYYY-MM-DD'>: not an ECB reference-rate file")
    out: list[FxRate] = []
    seen: set[date] = set()
    with localcontext(_CTX):
        for day_cube in days:
            day = _iso_date(day_cube.get("time", ""))
            if day is None:
                raise ValueError(f"{source}: <Cube time={day_cube.get('time')!r}> is not a date")
            if day in seen:
                raise ValueError(f"{source}: the day {day} is given twice")
            seen.add(day)
            quotes: dict[str, Decimal] = {}
            for cube in day_cube:
                currency, text = cube.get("currency", ""), cube.get("rate", "")
                if not _CODE.fullmatch(currency):
                    raise ValueError(f"{source} {day}: currency {currency!r} is not ISO 4217")
                rate = _positive(text)
                if rate is None or currency in quotes:
                    why = "is not a positive number" if rate is None else "is a second quote"
                    raise ValueError(f"{source} {day}, {currency}: rate {text!r} {why}")
                quotes[currency] = rate
            usd = quotes.get("USD")
            if usd is None:
                continue
            label = f"{source}:{day.isoformat()}"
            out.append(FxRate("EUR", usd.quantize(Q18), day, label))
            out.append(FxRate("USD", Decimal(1), day, label))
            out += [
                FxRate(currency, (usd / rate).quantize(Q18), day, label)
                for currency, rate in quotes.items()
                if currency not in ("USD", "EUR")
            ]
    return out


def seed002_rate(usd_to_zar: Decimal, as_of: date, source: str) -> FxRate:
    """Seed 002's ``usd_to_zar`` (rand per dollar) as ZAR's rate: 1 / usd_to_zar, 18 places."""
    value = _exact(usd_to_zar, "usd_to_zar")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"usd_to_zar {usd_to_zar!r} is not a positive number")
    with localcontext(_CTX):
        return FxRate("ZAR", (1 / value).quantize(Q18), as_of, source)


def rates_frame(rates: Iterable[FxRate]) -> pd.DataFrame:
    """The ``rates`` frame ``usd_rates`` takes: currency, rate_to_usd (Decimal), as_of_date."""
    rows = [(r.currency, r.rate_to_usd, r.as_of_date, r.source) for r in rates]
    frame = pd.DataFrame(rows, columns=[*FX_COLUMNS, "source"], dtype=object)
    return frame.astype({"currency": "string", "source": "string"})


# --- vectorized lookup and conversion -------------------------------------------------------


def _exact(value, what: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            pass
    elif isinstance(value, float):
        raise TypeError(f"{what} {value!r} is a float: pass Decimal or decimal text (exact)")
    raise ValueError(f"{what} {value!r} is not a decimal number")


def _arrow(values, what: str) -> pa.Array:
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TypeError(f"{what}: values of mixed or unsupported types ({exc})") from None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _codes_text(values, what: str) -> pa.Array:
    arr = _arrow(values, what)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise TypeError(f"{what}: currency codes must be text, not {arr.type}")
    return pc.utf8_upper(pc.utf8_trim_whitespace(arr.cast(pa.string())))


def _day_numbers(values, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 (int64) and a validity mask, from dates, timestamps (their
    local date) or ISO text, in pandas, Arrow or Python form."""
    arr = _arrow(values, what)
    t = arr.type
    if pa.types.is_null(t):
        return np.zeros(len(arr), np.int64), np.zeros(len(arr), bool)
    try:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            arr = pc.cast(pc.utf8_trim_whitespace(arr), pa.date32())
        elif pa.types.is_timestamp(t) or pa.types.is_date64(t):
            arr = pc.cast(arr, pa.date32())
        elif not pa.types.is_date32(t):
            raise TypeError(f"{what}: dates must be dates, timestamps or ISO text, not {t}")
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{what}: {exc}") from None
    days = pc.fill_null(arr.cast(pa.int32()), 0).to_numpy(zero_copy_only=False)
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    return days.astype(np.int64), valid


def _key(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """One sortable int64 per (currency, day): the code in the high bits, the day below."""
    return (codes << 32) | (days + 2**31)


def _plain_text(values: pa.Array) -> pa.Array:
    """Decimal text without exponent ("0.000000123456", not Arrow's "1.23456E-7"): Arrow's
    own text for most rows, rebuilt from the unscaled integer where it wrote an exponent."""
    text = pc.cast(values, pa.string())
    exponent = pc.fill_null(pc.match_substring(text, "E"), False)
    if not pc.any(exponent).as_py():
        return text
    small = values.filter(exponent)
    t = small.type
    whole = (pa.decimal256 if isinstance(t, pa.Decimal256Type) else pa.decimal128)(t.precision, 0)
    unscaled = pa.Array.from_buffers(whole, len(small), small.buffers(), 0, small.offset)
    digits = pc.cast(unscaled, pa.string())  # an integer: no exponent at scale 0
    negative = pc.starts_with(digits, "-")
    digits = pc.utf8_lpad(pc.replace_substring(digits, "-", ""), t.scale + 1, "0")
    sign = pc.if_else(negative, "-", "")
    units = pc.utf8_slice_codeunits(digits, 0, -t.scale)
    fraction = pc.utf8_slice_codeunits(digits, -t.scale)
    fixed = pc.binary_join_element_wise(sign, units, ".", fraction, "")
    return pc.replace_with_mask(text, exponent, fixed)


def _text_series(values: pa.Array, index: pd.Index, name: str | None) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(values.cast(pa.string())), index=index, name=name)


def usd_rates(currencies: pd.Series, dates: pd.Series, rates: pd.DataFrame) -> pd.Series:
    """Per row, the rate to USD of the latest ``as_of_date`` on or before the row's date for
    the row's currency: decimal text with 18 places in a pandas ``string`` Series (the
    input's index), <NA> when there is none (unknown currency, date before the first rate,
    missing date). USD is "1.000000000000000000" always, with or without table rows.

    ``rates`` has columns currency, rate_to_usd (Decimal or decimal text; more than 18
    places are rounded half-even to 18) and as_of_date. ``dates`` may be dates (Arrow
    date32 or Python), timestamps (their local date) or ISO text. Currencies are compared
    upper-cased and trimmed.
    """
    if len(currencies) != len(dates):
        raise ValueError(f"usd_rates: {len(currencies)} currencies but {len(dates)} dates")
    missing = [col for col in FX_COLUMNS if col not in rates.columns]
    if missing:
        raise ValueError(f"usd_rates: the rates frame has no column {', '.join(missing)}")
    rate_codes = _codes_text(rates["currency"], "rates.currency")
    rate_days, rate_day_ok = _day_numbers(rates["as_of_date"], "rates.as_of_date")
    values = []
    with localcontext(_CTX):
        for i, value in enumerate(rates["rate_to_usd"]):
            rate = _exact(value, f"rates row {i}: rate_to_usd")
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"rates row {i}: rate_to_usd {value!r} is not positive")
            values.append(rate.quantize(Q18))
    bad = [i for i, ok in enumerate(pc.is_valid(rate_codes).to_pylist()) if not ok]
    bad += np.flatnonzero(~rate_day_ok).tolist()
    if bad:
        raise ValueError(f"usd_rates: rates row {min(bad)} has no currency or no as_of_date")
    keep = pc.not_equal(rate_codes, "USD").to_numpy(zero_copy_only=False)  # USD is 1 anyway
    value_set = pc.unique(rate_codes.filter(pa.array(keep))).sort()
    codes = pc.fill_null(pc.index_in(rate_codes, value_set=value_set), -1)
    codes = codes.to_numpy(zero_copy_only=False).astype(np.int64)
    keys = _key(codes[keep], rate_days[keep])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    table = [value for value, kept in zip(values, keep, strict=True) if kept]
    table = [table[i] for i in order]
    for i in np.flatnonzero(keys[1:] == keys[:-1]):
        if table[i] != table[i + 1]:
            currency = value_set[int(keys[i] >> 32)].as_py()
            day = _EPOCH + timedelta(days=int(rate_days[keep][order][i]))
            raise ValueError(f"usd_rates: two different {currency} rates for {day}")

    row_text = _codes_text(currencies, "currencies")
    row_codes = pc.fill_null(pc.index_in(row_text, value_set=value_set), -1)
    row_codes = row_codes.to_numpy(zero_copy_only=False).astype(np.int64)
    row_days, row_day_ok = _day_numbers(dates, "dates")
    hit = (row_codes >= 0) & row_day_ok
    if len(keys):
        at = np.searchsorted(keys, _key(row_codes, row_days), side="right") - 1
        hit &= (at >= 0) & ((keys[np.clip(at, 0, None)] >> 32) == row_codes)
    else:
        at, hit = np.zeros(len(row_codes), np.int64), np.zeros(len(row_codes), bool)
    # Each distinct rate is written once; rows take their text by position (USD: the last).
    texts = pa.array([format(value, "f") for value in table] + [ONE_TEXT], pa.string())
    is_usd = pc.fill_null(pc.equal(row_text, "USD"), False).to_numpy(zero_copy_only=False)
    at = np.where(is_usd, len(table), at)
    found = texts.take(pa.array(at, mask=~(hit | is_usd)))
    return _text_series(found, currencies.index, None)


def _decimal_input(values: pd.Series, what: str) -> pa.Array:
    arr = _arrow(values, f"to_usd: {what}")
    if pa.types.is_floating(arr.type):
        raise TypeError(f"to_usd: {what} is a float column: pass decimal text or Decimal")
    return arr


def to_usd(amount_text: pd.Series, rate: pd.Series) -> pd.Series:
    """amount * rate per row, exact, rounded half-even to 12 places: decimal text in a pandas
    ``string`` Series (the amounts' index), <NA> where either side is missing. Rows are
    paired by position. Both sides may be decimal text, Decimal objects or Arrow decimals.

    The hot path is Arrow decimal256 arithmetic (amounts up to 19 integer digits and 18
    places, rates up to 20 and 18); anything outside that falls back to Python Decimal for
    the whole column, with the same result. Text that is not a number raises ValueError
    naming its position.
    """
    if len(amount_text) != len(rate):
        raise ValueError(f"to_usd: {len(amount_text)} amounts but {len(rate)} rates")
    amounts = _decimal_input(amount_text, "amount")
    rates = _decimal_input(rate, "rate")
    try:
        product = pc.multiply(pc.cast(amounts, _AMOUNT), pc.cast(rates, _RATE))
        rounded = pc.round(product, ndigits=12, round_mode="half_to_even")
        try:  # decimal128 is faster to format; products of 10**26 and more need 256 bits
            text = _plain_text(pc.cast(rounded, pa.decimal128(38, 12)))
        except pa.ArrowInvalid:
            text = _plain_text(pc.cast(rounded, pa.decimal256(76, 12)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        text = _to_usd_python(amounts, rates)
    return _text_series(text, amount_text.index, None)


def _to_usd_python(amounts: pa.Array, rates: pa.Array) -> pa.Array:
    out = []
    with localcontext(Context(prec=1000, rounding=ROUND_HALF_EVEN)):  # exact products
        for i, (a, r) in enumerate(zip(amounts.to_pylist(), rates.to_pylist(), strict=True)):
            if a is None or r is None:
                out.append(None)
                continue
            x, y = _exact(a, f"to_usd row {i}: amount"), _exact(r, f"to_usd row {i}: rate")
            if not (x.is_finite() and y.is_finite()):
                raise ValueError(f"to_usd row {i}: {a!r} * {r!r} is not a finite number")
            try:
                value = (x * y).quantize(Q12)
            except InvalidOperation:
                raise ValueError(f"to_usd row {i}: {a!r} * {r!r} is out of range") from None
            out.append(format(value if value else abs(value), "f"))
    return pa.array(out, type=pa.string())
