"""Turn pandera failure cases and unreadable rows into ``rejected_records`` rows."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from costsync_pipeline.sources.containers import ROW

REJECT_COLUMNS = ("row_number", "stage", "column", "check", "value", "reason", "request_id")


def _resolve(schema: pa.DataFrameSchema, context, column, check, number) -> tuple[str, str]:
    """(check name, human reason) for a failure case; pandera reports a check by its error
    text when it has one, so look the check up by position instead."""
    checks = None
    if context == "DataFrameSchema":
        checks = schema.checks
    elif isinstance(column, str) and column in schema.columns:
        checks = schema.columns[column].checks
    if checks is not None and number is not None and not pd.isna(number):
        found = checks[int(number)]
        name = str(found.name)
        text = found.error or name.replace("_", " ")
    else:
        name = str(check)
        text = "value is missing" if name == "not_nullable" else name.replace("_", " ")
    return name, text


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
    row_cases = cases[cases["index"].notna()]
    frame_cases = cases[cases["index"].isna()]
    if not frame_cases.empty:
        raise ValueError(
            f"{schema.name}: the frame itself does not match: {frame_cases.to_dict('records')}"
        )
    idx = row_cases["index"].to_numpy()
    contexts = row_cases["schema_context"].to_numpy()
    resolved = [
        _resolve(schema, ctx, col, chk, num)
        for ctx, col, chk, num in zip(
            contexts,
            row_cases["column"],
            row_cases["check"],
            row_cases["check_number"],
            strict=True,
        )
    ]
    checks = [name for name, _ in resolved]
    # A frame-wide check fails a row once per column: attribute it to the column it is about.
    columns = [
        (dataframe_check_columns or {}).get(chk, "") if ctx == "DataFrameSchema" else c
        for ctx, c, chk in zip(contexts, row_cases["column"], checks, strict=True)
    ]
    rejected = pd.DataFrame(
        {
            "index": idx,
            "row_number": frame.loc[idx, ROW].to_numpy(),
            "stage": stage,
            "column": columns,
            "check": checks,
            "value": [
                _text(frame.at[i, c]) if ctx == "DataFrameSchema" and c else _text(v)
                for ctx, i, c, v in zip(
                    contexts, idx, columns, row_cases["failure_case"], strict=True
                )
            ],
            "reason": [
                f"{col}: {text}" if col else text
                for (_, text), col in zip(resolved, columns, strict=True)
            ],
            "request_id": (
                frame.loc[idx, key_column].astype("str").to_numpy() if key_column else None
            ),
        }
    )
    rejected = rejected.drop_duplicates(subset=["index", "column", "check"])
    good = frame.drop(index=pd.Index(rejected["index"].unique()))
    return good, rejected.drop(columns="index").reset_index(drop=True)


def _text(value) -> str | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))
        else str(value)[:2000]
    )


def raw_json(frame: pd.DataFrame, rows: pd.Series) -> dict[int, str]:
    """The original rows as JSON text, keyed by row number, for the rows given."""
    subset = frame[frame[ROW].isin(rows)]
    if subset.empty:
        return {}
    lines = subset.drop(columns=ROW).to_json(orient="records", lines=True, date_format="iso")
    return dict(zip(subset[ROW].tolist(), lines.splitlines(), strict=True))
