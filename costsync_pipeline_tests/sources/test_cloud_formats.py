"""Cloud billing export formats on the real sample exports, and on broken variants of them."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pandas as pd
import pytest

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.schemas.cloud import NormalizedLineItem
from costsync_pipeline.sources.cloud import cloud_formats, read_cloud_file
from costsync_pipeline.sources.cloud.azure_ea import parse_azure_dates
from costsync_pipeline.sources.containers import ROW, UnreadableFile
from costsync_pipeline.transforms.cloud import normalize_line_items
from costsync_pipeline.transforms.rejections import validate_lazily
from costsync_pipeline_tests.conftest import AWS_CUR, AZURE_EA
from costsync_pipeline_tests.conftest import FOCUS as FOCUS_SAMPLE

FOCUS, CUR, AZURE = FOCUS_SAMPLE, AWS_CUR, AZURE_EA


def read_text_csv(path) -> pd.DataFrame:
    """A sample as the CSV reader hands it over: every value text, empty cells as ""."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def load(data: bytes, name: str = "export.csv"):
    found = read_cloud_file(data, name)
    return found.format, found.table.frame


def normalized(data: bytes) -> pd.DataFrame:
    fmt, frame = load(data)
    fmt.raw_schema.validate(frame, lazy=True)
    items = fmt.to_line_items(frame.drop(columns=ROW))
    out = normalize_line_items(items, fmt.timestamps(frame))
    NormalizedLineItem.validate(out, lazy=True)
    return out


def failed_checks(data: bytes) -> dict[str, set[str]]:
    """Column -> names of the raw checks that failed."""
    fmt, frame = load(data)
    _, rejected = validate_lazily(frame, fmt.raw_schema, "raw", None)
    found: dict[str, set[str]] = {}
    for column, check in zip(rejected["column"], rejected["check"], strict=True):
        found.setdefault(column, set()).add(check)
    return found


def test_formats_are_discovered_from_modules():
    assert [f.name for f in cloud_formats()] == ["gpu_cost_export", "aws_cur", "azure_ea", "focus"]


@pytest.mark.parametrize(
    ("path", "name", "rows"),
    [(FOCUS, "focus", 1000), (CUR, "aws_cur", 1281), (AZURE, "azure_ea", 27)],
)
def test_real_samples_are_detected_and_valid(path, name, rows):
    fmt, frame = load(path.read_bytes(), path.name)
    assert fmt.name == name
    assert len(frame) == rows
    fmt.raw_schema.validate(frame, lazy=True)  # every real row passes
    assert fmt.timestamps(frame).notna().all()


def test_focus_sample_normalizes():
    out = normalized(FOCUS.read_bytes())
    assert set(out["provider"]) == {"aws", "microsoft", "oracle"}
    assert set(out["charge_category"]) == {"Usage", "Adjustment", "Credit"}
    credit = out[out["charge_category"] == "Credit"]
    assert credit["billed_cost"].tolist() == [Decimal("-2.6137")]
    assert (out["billing_period_start"] == dt.date(2024, 9, 1)).sum() == 999
    # NULL cells come out missing, never as the text "NULL".
    text = out.select_dtypes("str")
    assert not text.isin(["NULL"]).any().any()
    assert credit["consumed_quantity"].isna().all()
    # g5 and g3 instances are named only in the charge description.
    assert {"a10g", "m60"} <= set(out["resource_type"])
    total = sum(Decimal(v) for v in read_text_csv(FOCUS)["BilledCost"])
    assert sum(out["billed_cost"]) == total


def test_focus_charge_category_is_matched_in_any_case():
    sample = read_text_csv(FOCUS).head(3)
    sample["ChargeCategory"] = [" usage ", "CREDIT", "Adjustment"]
    out = normalized(csv_bytes(sample))
    assert out["charge_category"].tolist() == ["Usage", "Credit", "Adjustment"]


def test_focus_gpu_instance_in_charge_description():
    sample = read_text_csv(FOCUS).head(2)
    sample["ChargeDescription"] = [
        "$32.77 per On Demand Linux p4d.24xlarge Instance Hour",
        "$0.34 per On Demand Linux c5.2xlarge Instance Hour",
    ]
    sample["ResourceType"] = ["instance", "instance"]
    assert normalized(csv_bytes(sample))["resource_type"].tolist() == ["a100", "instance"]


def test_focus_parquet_and_optional_columns():
    sample = read_text_csv(FOCUS).head(5)
    sample = sample.drop(columns=["EffectiveCost", "ConsumedQuantity", "RegionId", "Id"])
    sample["BilledCost"] = sample["BilledCost"].astype(float)
    buf = io.BytesIO()
    sample.to_parquet(buf, index=False)
    found = read_cloud_file(buf.getvalue(), "focus.parquet")
    assert found.source == "focus.parquet"
    out = normalized(buf.getvalue())
    assert (out["effective_cost"] == out["billed_cost"]).all()
    assert (out["region"] == "").all()


def test_cur_sample_normalizes():
    out = normalized(CUR.read_bytes())
    assert set(out["provider"]) == {"aws"}
    tax = out[out["charge_category"] == "Tax"]
    assert len(tax) == 12
    assert set(tax["usage_date"]) == {dt.date(2023, 11, 1)}  # monthly items count on day one
    usage = out[out["charge_category"] == "Usage"]
    assert all(d.year == 2023 and d.month == 11 for d in usage["usage_date"])
    assert sum(out["billed_cost"]) == Decimal("1.68230869740")
    column = read_text_csv(CUR)["lineItem/UnblendedCost"]
    assert sum(out["billed_cost"]) == sum(Decimal(v) for v in column)
    # product/regionCode is blank on some rows; product/region fills in.
    assert "global" in set(out["region"])


def test_cur_gpu_usage_types():
    sample = read_text_csv(CUR)
    usage = sample.index[sample["lineItem/LineItemType"] == "Usage"][:2]
    sample.loc[usage, "lineItem/UsageType"] = ["USE1-BoxUsage:p4d.24xlarge", "BoxUsage:p5.48xlarge"]
    out = normalized(csv_bytes(sample))
    assert out.loc[usage, "resource_type"].tolist() == ["a100", "h100"]
    assert out.drop(index=usage)["resource_type"].isin(["a100", "h100"]).sum() == 0


def test_cur_line_item_types_map_to_charge_categories_and_amortized_cost():
    sample = read_text_csv(CUR).head(7).copy()
    sample["lineItem/LineItemType"] = [
        "DiscountedUsage",
        "SavingsPlanCoveredUsage",
        "SavingsPlanNegation",
        "RIFee",
        "Refund",
        "Credit",
        "SavingsPlanRecurringFee",
    ]
    sample["lineItem/UnblendedCost"] = ["1.0", "2.0", "-2.0", "5.0", "-1.5", "-0.5", "3.0"]
    sample["reservation/EffectiveCost"] = ["0.6", "", "", "", "", "", ""]
    sample["savingsPlan/SavingsPlanEffectiveCost"] = ["", "1.2", "", "", "", "", ""]
    sample["reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"] = [
        "",
        "",
        "",
        "0.25",
        *[""] * 3,
    ]
    sample["reservation/UnusedRecurringFee"] = ["", "", "", "0.5", "", "", ""]
    sample["savingsPlan/TotalCommitmentToDate"] = [*[""] * 6, "3.0"]
    sample["savingsPlan/UsedCommitment"] = [*[""] * 6, "2.4"]
    out = normalized(csv_bytes(sample))
    assert out["charge_category"].tolist() == [
        "Usage",
        "Usage",
        "Adjustment",
        "Purchase",
        "Adjustment",
        "Credit",
        "Purchase",
    ]
    effective = [Decimal(v) for v in ("0.6", "1.2", "0", "0.75", "-1.5", "-0.5", "0.6")]
    assert out["effective_cost"].tolist() == effective
    assert out["billed_cost"].tolist() == [Decimal(v) for v in sample["lineItem/UnblendedCost"]]


def test_azure_sample_normalizes():
    out = normalized(AZURE.read_bytes())
    assert len(out) == 27
    assert set(out["billing_currency"]) == {"CAD"}
    assert set(out["usage_date"]) == {dt.date(2023, 9, 2)}
    assert set(out["billing_period_start"]) == {dt.date(2023, 9, 1)}
    assert set(out["provider"]) == {"microsoft"}
    assert (out["region"] == out["region"].str.lower()).all()
    assert "centralus" in set(out["region"])
    # 5.64902E-05 is a valid amount.
    assert Decimal("0.0000564902") in set(out["billed_cost"])
    total = sum(Decimal(v) for v in read_text_csv(AZURE)["CostInBillingCurrency"])
    assert sum(out["billed_cost"]) == total


def test_azure_sample_with_bom_reads():
    fmt, frame = load(b"\xef\xbb\xbf" + AZURE.read_bytes())
    assert fmt.name == "azure_ea"
    assert "InvoiceSectionName" in frame.columns
    fmt.raw_schema.validate(frame, lazy=True)


def test_azure_gpu_size_in_additional_info():
    sample = read_text_csv(AZURE).head(2)
    sample["AdditionalInfo"] = ['{"ServiceType": "Standard_NC24ads_A100_v4"}', "{}"]
    out = normalized(csv_bytes(sample))
    assert out["resource_type"].tolist() == ["a100", sample.loc[1, "ConsumedService"].lower()]


def test_azure_dates():
    s = pd.Series(
        ["9/2/2023", "2023-09-02", " 12/31/2024 ", "5/1/25", "2/30/2023", "2023-9-2", "", "NULL"],
        dtype="str",
    )
    parsed = parse_azure_dates(s)
    utc = pd.Timestamp("2023-09-02", tz="UTC")
    assert parsed.iloc[:3].tolist() == [utc, utc, pd.Timestamp("2024-12-31", tz="UTC")]
    assert parsed.iloc[3:].isna().all()


@pytest.mark.parametrize("value", ["$10,000.00 ", "5/1/25", "0,0123", "1e400", "NaN-ish"])
def test_decimal_check_rejects_non_plain_numbers(value):
    assert not ck.decimal_like(pd.Series([value], dtype="str")).iloc[0]


@pytest.mark.parametrize(
    ("path", "edits", "expected"),
    [
        (FOCUS, {"BilledCost": "$10,000.00 "}, {"BilledCost": {"decimal"}}),
        (FOCUS, {"ChargeCategory": "Bogus"}, {"ChargeCategory": {"known_charge_category"}}),
        (FOCUS, {"BilledCost": "0,0123"}, {"BilledCost": {"decimal"}}),
        (FOCUS, {"ChargePeriodStart": ""}, {"ChargePeriodStart": {"not_blank"}}),
        (AZURE, {"Date": "5/1/25"}, {"Date": {"azure_date"}}),
        (AZURE, {"ChargeType": "Bogus"}, {"ChargeType": {"known_charge_type"}}),
        (AZURE, {"CostInBillingCurrency": "0,0123"}, {"CostInBillingCurrency": {"decimal"}}),
        (
            CUR,
            {"lineItem/LineItemType": "Bogus"},
            {"lineItem/LineItemType": {"known_line_item_type"}},
        ),
        (CUR, {"lineItem/UnblendedCost": "5/1/25"}, {"lineItem/UnblendedCost": {"decimal"}}),
    ],
)
def test_broken_rows_fail_named_checks(path, edits, expected):
    sample = read_text_csv(path).head(5)
    for column, value in edits.items():
        sample.loc[2, column] = value
    assert failed_checks(csv_bytes(sample)) == expected


def test_german_azure_header_is_explained():
    data = "Datum,Kosten,Abrechnungswährung,Menge\n9/2/2023,0,EUR,1\n".encode()
    with pytest.raises(UnreadableFile, match="German"):
        read_cloud_file(data, "kosten.csv")


def test_unrelated_csv_is_not_called_german():
    with pytest.raises(UnreadableFile, match="matches no known cloud format") as err:
        read_cloud_file(b"date,amount\n2023-09-02,1\n", "other.csv")
    assert "German" not in str(err.value)


def test_missing_required_column_is_named():
    sample = read_text_csv(FOCUS).head(3).drop(columns="BillingCurrency")
    with pytest.raises(UnreadableFile, match="BillingCurrency"):
        read_cloud_file(csv_bytes(sample), "focus.csv")


GPU_RECORDS = [
    {"date": "2024-09-01", "provider": "aws", "gpu_type": "A100 ", "cost_usd": 12.5},
    {"date": "2024-09-02", "provider": "gcp", "gpu_type": "h100", "cost_usd": 3},
]


@pytest.mark.parametrize("doc", [GPU_RECORDS, {"cost_data": GPU_RECORDS}, {"records": GPU_RECORDS}])
def test_gpu_cost_export_envelopes(doc):
    fmt, frame = load(json.dumps(doc).encode(), "gpu.json")
    assert fmt.name == "gpu_cost_export"
    out = normalized(json.dumps(doc).encode())
    assert out["resource_type"].tolist() == ["a100", "h100"]
    assert out["billing_period_start"].tolist() == out["usage_date"].tolist()
