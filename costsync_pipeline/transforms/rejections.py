"""Turn pandera failure cases and unreadable rows into ``rejected_records`` rows."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from costsync_pipeline.sources.containers import ROW

REJECT_COLUMNS = ("row_number", "stage", "column", "check", "value", "reason", "request_id")


def _check_messages(schema: pa.DataFrameSchema) -> dict[tuple[str | None, str], str]:
    messages: dict[tuple[str | None, str], str] = {}
    for name, column in schema.columns.items():
        for check in column.checks:
            messages[(name, str(check.name))] = check.error or str(check.name)
    for check in schema.checks:
        messages[(None, str(check.name))] = check.error or str(check.name)
    return messages


def _describe(check: str, column: str | None, messages: dict) -> str:
    if check == "not_nullable":
        return f"{column}: value is missing"
    text = messages.get((column, check)) or messages.get((None, check)) or check
    if text == check and check.startswith(("greater_than", "less_than", "isin", "str_length")):
        return f"{column}: {check.replace('_', ' ')}"
    return f"{column}: {text}" if column else text


def validate_lazily(
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    stage: str,
    key_column: str | None,
    dataframe_check_columns: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate every row at once; return (good rows, rejections).

    Rejections carry the row number (``_row``), column, check, offending value and reason.
    Frame-wide failures (a wrong dtype) are bugs in costsync, not in the data, and raise.
    """
    try:
        schema.validate(frame, lazy=True)
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    except SchemaErrors as err:
        cases = err.failure_cases
    messages = _check_messages(schema)
    row_cases = cases[cases["index"].notna()]
    frame_cases = cases[cases["index"].isna()]
    if not frame_cases.empty:
        raise ValueError(f"{schema.name}: the frame itself does not match: {frame_cases.to_dict('records')}")
    idx = row_cases["index"].to_numpy()
    checks = row_cases["check"].astype(str).to_numpy()
    columns = [
        c if isinstance(c, str) and c in frame.columns
        else (dataframe_check_columns or {}).get(chk, "")
        for c, chk in zip(row_cases["column"], checks, strict=True)
    ]
    rejected = pd.DataFrame(
        {
            "index": idx,
            "row_number": frame.loc[idx, ROW].to_numpy(),
            "stage": stage,
            "column": columns,
            "check": checks,
            "value": [None if pd.isna(v) else str(v)[:2000] for v in row_cases["failure_case"]],
            "reason": [
                _describe(chk, col or None, messages) for chk, col in zip(checks, columns, strict=True)
            ],
            "request_id": (
                frame.loc[idx, key_column].astype("str").to_numpy() if key_column else None
            ),
        }
    )
    rejected = rejected.drop_duplicates(subset=["index", "column", "check"])
    good = frame.drop(index=pd.Index(rejected["index"].unique()))
    return good, rejected.drop(columns="index").reset_index(drop=True)


def raw_json(frame: pd.DataFrame, rows: pd.Series) -> dict[int, str]:
    """The original rows as JSON text, keyed by row number, for the rows given."""
    subset = frame[frame[ROW].isin(rows)]
    if subset.empty:
        return {}
    lines = subset.drop(columns=ROW).to_json(orient="records", lines=True, date_format="iso")
    return dict(zip(subset[ROW].tolist(), lines.splitlines(), strict=True))
