"""FX rates: the bundled CSV, the ECB's XML (a real published day and a hand-checked one),
seed 002's ZAR rate, the latest-on-or-before lookup and exact conversion to USD."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pandas as pd
import pyarrow as pa
import pytest

from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.sources.fx import (
    FxRate,
    format_fx_csv,
    parse_ecb_xml,
    rates_frame,
    read_fx_csv,
    seed002_rate,
    to_usd,
    usd_rates,
)

FX = DATA_DIR / "fx"
ONE = "1.000000000000000000"

HAND_ECB = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
 xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube>
    <Cube time="2024-01-05">
      <Cube currency="USD" rate="1.10"/>
      <Cube currency="GBP" rate="0.85"/>
      <Cube currency="JPY" rate="160"/>
    </Cube>
    <Cube time="2024-01-04">
      <Cube currency="GBP" rate="0.86"/>
    </Cube>
  </Cube>
</gesmes:Envelope>"""


# --- CSV ------------------------------------------------------------------------------------

CSV = b"""currency,rate_to_usd,as_of_date,source
GBP,1.27,2024-01-02,bank
gbp ,1.28,2024-01-05,
EUR,abc,2024-01-02,bank
EURO,1.09,2024-01-02,bank

JPY,0,2024-01-02,bank
CHF,-1.1,2024-13-01,bank
GBP,1.30,2024-01-05,bank
ZAR,0.0542,2024-01-02
"""


def test_csv_keeps_good_rows_and_reports_each_bad_cell():
    rates, problems = read_fx_csv(CSV, "rates.csv")
    assert rates == [
        FxRate("GBP", Decimal("1.27"), date(2024, 1, 2), "bank"),
        FxRate("GBP", Decimal("1.28"), date(2024, 1, 5), "rates.csv"),  # blank source
        FxRate("ZAR", Decimal("0.0542"), date(2024, 1, 2), "rates.csv"),  # short row
    ]
    assert problems == [
        "rates.csv row 4, column rate_to_usd: 'abc' is not a positive number",
        "rates.csv row 5, column currency: 'EURO' is not a 3-letter ISO 4217 code",
        "rates.csv row 7, column rate_to_usd: '0' is not a positive number",
        "rates.csv row 8, column rate_to_usd: '-1.1' is not a positive number",
        "rates.csv row 8, column as_of_date: '2024-13-01' is not a date (YYYY-MM-DD)",
        "rates.csv row 9: a second GBP rate for 2024-01-05 (row 3 is kept)",
    ]
    assert str(rates[0].rate_to_usd) == "1.27"  # the text's exact value, no float on the way


def test_csv_missing_a_column_names_the_file_and_column():
    with pytest.raises(ValueError, match=r"^fx\.csv: missing column rate_to_usd \(columns: "):
        read_fx_csv(b"currency,rate,as_of_date\nGBP,1.27,2024-01-02\n", "fx.csv")
    with pytest.raises(ValueError, match=r"^empty\.csv: missing column currency, rate_to_usd"):
        read_fx_csv(b"", "empty.csv")


def test_the_bundled_rates_are_the_ecb_sample_and_seed_002():
    rates, problems = read_fx_csv((FX / "rates.csv").read_bytes(), "rates.csv")
    assert problems == []
    ecb = parse_ecb_xml((FX / "ecb_sample.xml").read_bytes())
    seed = seed002_rate(Decimal("18.45"), date(2026, 1, 7), "seed002")
    assert rates == [*ecb, seed]
    assert (FX / "rates.csv").read_text() == format_fx_csv([*ecb, seed])  # regenerated as told


# --- ECB XML --------------------------------------------------------------------------------


def test_the_real_ecb_day_converts_to_usd():
    rates = {r.currency: r for r in parse_ecb_xml((FX / "ecb_sample.xml").read_bytes())}
    assert len(rates) == 31  # 30 quoted currencies and EUR
    assert {r.as_of_date for r in rates.values()} == {date(2025, 5, 9)}
    assert {r.source for r in rates.values()} == {"ecb:2025-05-09"}
    assert rates["EUR"].rate_to_usd == Decimal("1.1252")  # 1 EUR = 1.1252 USD that day
    assert rates["USD"].rate_to_usd == 1
    # GBP was quoted 0.84770 per EUR: 1.1252 / 0.84770 USD per GBP, to 18 places.
    assert rates["GBP"].rate_to_usd == Decimal("1.327356376076442138")
    assert abs(rates["GBP"].rate_to_usd * Decimal("0.84770") - Decimal("1.1252")) < Decimal("1e-18")
    assert rates["ZAR"].rate_to_usd == Decimal("0.054932018453877511")  # 1.1252 / 20.4835


def test_a_hand_written_ecb_file():
    rates = parse_ecb_xml(HAND_ECB, source="hand")
    by = {r.currency: r.rate_to_usd for r in rates}
    assert by == {
        "EUR": Decimal("1.10"),
        "USD": Decimal("1"),
        "GBP": Decimal("1.294117647058823529"),  # 1.10 / 0.85 = 22/17 = 1.29411764705882352941...
        "JPY": Decimal("0.006875"),  # 1.10 / 160, exact
    }
    assert {r.as_of_date for r in rates} == {date(2024, 1, 5)}  # 01-04 has no USD: skipped
    assert {r.source for r in rates} == {"hand:2024-01-05"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<Envelope><Cube><Cube time='2024-01-05'>", r"^feed\.xml: not well-formed XML"),
        (b"<rates><rate/></rates>", r"^feed\.xml: no <Cube time="),
        (b"<E><Cube><Cube time='5 Jan'/></Cube></E>", r"time='5 Jan'.* is not a date"),
        (
            b"<E><Cube><Cube time='2024-01-05'><Cube currency='USD' rate='x'/></Cube></Cube></E>",
            r"^feed\.xml 2024-01-05, USD: rate 'x' is not a positive number",
        ),
    ],
)
def test_a_malformed_ecb_document_names_the_source(document, message):
    with pytest.raises(ValueError, match=message):
        parse_ecb_xml(document, source="feed.xml")


def test_seed002_rate_is_the_inverse_to_18_places():
    rate = seed002_rate(Decimal("18.45"), date(2026, 1, 7), "seed002")
    # 1 / 18.45 = 20/369 = 0.054200542005420054 2005...: the 19th place is 2, rounded down
    assert rate == FxRate("ZAR", Decimal("0.054200542005420054"), date(2026, 1, 7), "seed002")
    with pytest.raises(TypeError, match="float"):
        seed002_rate(18.45, date(2026, 1, 7), "seed002")
    with pytest.raises(ValueError, match="not a positive number"):
        seed002_rate(Decimal("0"), date(2026, 1, 7), "seed002")


def test_fx_rate_refuses_bad_values():
    with pytest.raises(ValueError, match="'usd' is not an ISO 4217 code"):
        FxRate("usd", Decimal(1), date(2024, 1, 1), "x")
    with pytest.raises(ValueError, match="not a Decimal > 0"):
        FxRate("GBP", 1.27, date(2024, 1, 1), "x")


# --- usd_rates ------------------------------------------------------------------------------


def _rates(text: bool = False) -> pd.DataFrame:
    frame = rates_frame(
        [
            FxRate("GBP", Decimal("1.27"), date(2024, 1, 2), "t"),
            FxRate("GBP", Decimal("1.28"), date(2024, 1, 5), "t"),
            FxRate("EUR", Decimal("1.09"), date(2024, 1, 3), "t"),
        ]
    )
    if text:
        frame["rate_to_usd"] = frame["rate_to_usd"].astype(str).astype("string")
    return frame


CASES = [  # currency, date, expected rate
    ("GBP", date(2024, 1, 1), None),  # before the first GBP rate
    ("GBP", date(2024, 1, 2), "1.270000000000000000"),  # that very day
    ("GBP", date(2024, 1, 4), "1.270000000000000000"),  # a gap day: the earlier rate
    ("GBP", date(2024, 1, 5), "1.280000000000000000"),
    ("GBP", date(2025, 6, 1), "1.280000000000000000"),  # long after: still the latest
    ("USD", date(1999, 1, 1), ONE),  # USD is 1 without any table row
    ("XYZ", date(2024, 1, 5), None),  # unknown currency
    ("EUR", date(2024, 1, 2), None),
    ("EUR", date(2024, 1, 3), "1.090000000000000000"),
    (" gbp", date(2024, 1, 3), "1.270000000000000000"),  # trimmed, upper-cased
    (None, date(2024, 1, 3), None),
    ("GBP", None, None),
    ("USD", None, ONE),
]


def _dates(days: list[date | None], form: str) -> pd.Series:
    if form == "arrow date32":
        return pd.Series(pd.array(days, dtype=pd.ArrowDtype(pa.date32())))
    if form == "python date":
        return pd.Series(days, dtype=object)
    if form == "iso text":
        return pd.Series([d and d.isoformat() for d in days], dtype="string")
    return pd.Series(pd.to_datetime(days)) + pd.Timedelta(hours=15)  # datetime64, mid-day


@pytest.mark.parametrize("form", ["arrow date32", "python date", "iso text", "datetime64"])
@pytest.mark.parametrize("text_rates", [False, True], ids=["decimal rates", "text rates"])
def test_the_latest_rate_on_or_before_the_row_date(form, text_rates):
    index = pd.Index([100 + 7 * i for i in range(len(CASES))][::-1])  # order kept, not sorted
    currencies = pd.Series([c for c, _, _ in CASES], index=index, dtype="string")
    dates = _dates([d for _, d, _ in CASES], form)
    result = usd_rates(currencies, dates, _rates(text_rates))
    assert result.dtype == pd.StringDtype("pyarrow")
    assert result.index.equals(index)
    assert [None if pd.isna(v) else v for v in result] == [want for _, _, want in CASES]


def test_usd_is_one_even_with_an_empty_table():
    empty = rates_frame([])
    result = usd_rates(
        pd.Series(["USD", "GBP"]), pd.Series([date(2024, 1, 1), date(2024, 1, 1)]), empty
    )
    assert result.tolist() == [ONE, pd.NA]


def test_conflicting_rates_for_one_day_are_refused():
    frame = pd.concat([_rates(), _rates()], ignore_index=True)  # identical duplicates: fine
    assert usd_rates(pd.Series(["GBP"]), pd.Series([date(2024, 1, 2)]), frame).tolist() == [
        "1.270000000000000000"
    ]
    frame.loc[3, "rate_to_usd"] = Decimal("1.5")
    with pytest.raises(ValueError, match="two different GBP rates for 2024-01-02"):
        usd_rates(pd.Series(["GBP"]), pd.Series([date(2024, 1, 2)]), frame)
    frame.loc[3, "rate_to_usd"] = 1.5
    with pytest.raises(TypeError, match="rates row 3: rate_to_usd 1.5 is a float"):
        usd_rates(pd.Series(["GBP"]), pd.Series([date(2024, 1, 2)]), frame)


def test_mixed_currencies_match_a_plain_python_lookup():
    rng = random.Random(4217)
    start = date(2024, 1, 1)
    table = [
        FxRate(c, Decimal(rng.randint(1, 10**9)) / 10**8, start + timedelta(days=d), "t")
        for c in ("EUR", "GBP", "ZAR", "JPY")
        for d in sorted(rng.sample(range(60), 25))
    ]
    rows = [
        (
            rng.choice(["EUR", "GBP", "ZAR", "JPY", "USD", "CHF"]),
            start + timedelta(rng.randint(-5, 70)),
        )
        for _ in range(3_000)
    ]
    result = usd_rates(
        pd.Series([c for c, _ in rows], dtype="string"),
        pd.Series([d for _, d in rows]),
        rates_frame(table),
    )

    def expected(currency, day):
        if currency == "USD":
            return Decimal(1)
        known = [r for r in table if r.currency == currency and r.as_of_date <= day]
        return max(known, key=lambda r: r.as_of_date).rate_to_usd if known else None

    got = [None if pd.isna(v) else Decimal(v) for v in result]
    assert got == [expected(c, d) for c, d in rows]


# --- to_usd ---------------------------------------------------------------------------------


def _exact(amount: str, rate: str) -> str:
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 200, ROUND_HALF_EVEN
        value = (Decimal(amount) * Decimal(rate)).quantize(Decimal("1e-12"))
    return format(value if value else abs(value), "f")


def test_to_usd_is_exact_decimal_arithmetic():
    amounts = pd.Series(["0.1", "0.2", "12345678901234567.123456789", "-2.5", None, "7"])
    rates = pd.Series(["3", "3", "1.327356376076442138", ONE, ONE, None], dtype="string")
    result = to_usd(amounts, rates)
    assert result.dtype == pd.StringDtype("pyarrow")
    assert result.tolist() == [
        "0.300000000000",  # 0.1 * 3 as a float is 0.30000000000000004
        "0.600000000000",
        _exact("12345678901234567.123456789", "1.327356376076442138"),
        "-2.500000000000",
        pd.NA,
        pd.NA,
    ]
    assert result[2] == "16387115606546107.033192209190"


def test_to_usd_rounds_half_even_to_12_places_in_plain_notation():
    amounts = pd.Series(
        ["0.0000000000005", "0.0000000000015", "-0.0000000000001", "0.000001", "1e-5"]
    )
    rates = pd.Series(["1", "1", "1", "0.00006047319793686", "1"])
    assert to_usd(amounts, rates).tolist() == [
        "0.000000000000",
        "0.000000000002",
        "0.000000000000",  # no negative zero
        "0.000000000060",  # not 6.0E-11
        "0.000010000000",
    ]


def test_to_usd_falls_back_to_python_decimal_with_the_same_result():
    rng = random.Random(12)
    amounts = [f"{rng.randint(-(10**12), 10**12)}.{rng.randint(0, 10**9):09d}" for _ in range(500)]
    rates = [f"0.{rng.randint(0, 10**18):018d}" for _ in range(500)]
    fast = to_usd(pd.Series(amounts), pd.Series(rates))
    # 22 decimal places do not fit the Arrow path: the whole column goes through Python.
    slow = to_usd(pd.Series([*amounts, "0.0000000000000000000005"]), pd.Series([*rates, "1"]))
    assert (
        fast.tolist()
        == slow.tolist()[:-1]
        == [_exact(a, r) for a, r in zip(amounts, rates, strict=True)]
    )
    assert slow.tolist()[-1] == "0.000000000000"
    big = to_usd(pd.Series(["1000000000000000000"]), pd.Series(["0.054200542005420054"]))
    assert big.tolist() == ["54200542005420054.000000000000"]  # 10**18 on the Arrow path
    bigger = to_usd(pd.Series(["9999999999999999999"]), pd.Series(["100000000.5"]))
    assert bigger.tolist() == ["1000000004999999999899999999.500000000000"]  # over 10**26
    huge = to_usd(pd.Series(["123456789012345678901234567890.5"]), pd.Series(["2"]))
    assert huge.tolist() == ["246913578024691357802469135781.000000000000"]


def test_to_usd_accepts_decimals_and_refuses_floats_and_garbage():
    amounts = pd.Series([Decimal("0.1"), Decimal("2.50"), None], dtype=object)
    rates = pd.Series([Decimal("3"), Decimal("0.4"), Decimal("1")], dtype=object)
    assert to_usd(amounts, rates).tolist() == ["0.300000000000", "1.000000000000", pd.NA]
    with pytest.raises(TypeError, match="float"):
        to_usd(pd.Series([0.1]), pd.Series(["3"]))
    with pytest.raises(ValueError, match=r"to_usd row 1: amount 'abc' is not a decimal number"):
        to_usd(pd.Series(["1", "abc"]), pd.Series(["1", "1"]))


def test_usd_rates_feed_to_usd():
    currencies = pd.Series(["GBP", "USD", "EUR", "GBP"], dtype="string")
    dates = pd.Series([date(2024, 1, 4), date(2024, 1, 4), date(2024, 1, 2), date(2024, 1, 5)])
    amounts = pd.Series(["10", "10", "10", "0.01"], dtype="string")
    cost = to_usd(amounts, usd_rates(currencies, dates, _rates()))
    assert cost.tolist() == ["12.700000000000", "10.000000000000", pd.NA, "0.012800000000"]
