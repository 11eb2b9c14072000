"""The warehouse: engine, migrations and the fast bulk upsert."""
