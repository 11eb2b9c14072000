"""Data-quality checks on stored rows, as plain functions (asset checks call them)."""
