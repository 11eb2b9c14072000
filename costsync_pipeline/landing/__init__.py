"""Landing: from inbox files to warehouse rows (inbox scanning, raw zone, per-file accounting)."""
