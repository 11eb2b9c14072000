"""GPU types from instance names: ``p4d.24xlarge`` -> ``a100``.

Cloud bills name instances, not GPUs; the GPU type is what a GPU cost analysis groups by.
The table covers the GPU instance families of AWS, Azure and Google Cloud; an instance whose
family is not here keeps the resource type its export gives.
"""

from __future__ import annotations

import re

import pandas as pd

# Instance family -> GPU, lower-case, as seed 001's exports name them.
GPU_FAMILIES = {
    # AWS EC2
    "p2": "k80",
    "p3": "v100",
    "p3dn": "v100",
    "p4d": "a100",
    "p4de": "a100",
    "p5": "h100",
    "p5e": "h200",
    "p5en": "h200",
    "p6": "b200",
    "g3": "m60",
    "g3s": "m60",
    "g4dn": "t4",
    "g5": "a10g",
    "g6": "l4",
    "g6e": "l40s",
    "gr6": "l4",
    # Google Cloud
    "a2": "a100",
    "a3": "h100",
    "g2": "l4",
    # Azure (the size's series)
    "nc_a100_v4": "a100",
    "nd_a100_v4": "a100",
    "nd_h100_v5": "h100",
    "nc_h100_v5": "h100",
    "nv_a10_v5": "a10",
    "nc_t4_v3": "t4",
}
# A GPU named in free text ("NVIDIA H100 80GB", "A100-SXM4"): the model, lower-case.
GPU_NAME = (
    r"(?<![a-z0-9])(a100|a10g|a10|h100|h200|b200|gb200|l40s|l4|t4|v100|k80|m60|mi300x)(?![a-z0-9])"
)
# "p4d.24xlarge", "BoxUsage:p5.48xlarge", "a2-highgpu-1g", "Standard_ND96asr_A100_v4"
_AWS = re.compile(r"(?<![a-z0-9])([a-z]+\d+[a-z]*)\.\d*[a-z]*large", re.IGNORECASE)
_GCP = re.compile(r"(?<![a-z0-9])(a2|a3|g2)-(?:high|mega|ultra|standard)", re.IGNORECASE)
_AZURE = re.compile(r"standard_(n[cdv])\d+[a-z]*_(a100|h100|a10|t4)_(v\d)", re.IGNORECASE)


def gpu_type(text) -> str | None:
    """The GPU type an instance name or usage type refers to, or None."""
    if text is None or text is pd.NA or not isinstance(text, str):
        return None
    if m := _AZURE.search(text):
        return GPU_FAMILIES.get(f"{m[1]}_{m[2]}_{m[3]}".lower())
    for pattern in (_AWS, _GCP):
        if m := pattern.search(text):
            return GPU_FAMILIES.get(m[1].lower())
    return None


def gpu_types(*columns: pd.Series) -> pd.Series:
    """Per row, the GPU type found in the first of ``columns`` that names one (else NA)."""
    out = pd.Series(pd.NA, index=columns[0].index, dtype="object")
    for col in columns:
        found = col.map(gpu_type, na_action="ignore")
        out = out.where(out.notna(), found)
    return out
