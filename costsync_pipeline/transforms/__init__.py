"""Pure pandas transforms (normalize, dedupe, reject). No Dagster imports."""
