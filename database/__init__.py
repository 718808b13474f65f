"""The warehouse's SQL, shipped as package data: `importlib.resources.files("database")`.

`init/NN_name.sql` are applied in order by `retail db-init` (suite/dbinit.py). Any other
`.sql` under this folder ships in the wheel too (pyproject's package-data).
"""
