"""Readers for each export format: a file in, a raw frame out. No Dagster imports."""
