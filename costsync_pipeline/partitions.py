"""The one daily partitions definition every stage shares: UTC calendar days.

``end_offset=1`` makes today's partition exist, so files landing during the day are
processed as they arrive instead of waiting until midnight.
"""

import dagster as dg

PARTITIONS_START = "2020-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)
