"""The warehouse's SQL, shipped as package data and found with importlib.resources
(`files("database")`): `init/NN_*.sql` (schemas and tables, applied in order by
`retail db-init`, suite/dbinit.py) and `marts/` (one SQL model per mart, run by the marts
refresh). Every `.sql` under this folder ships in the wheel (pyproject's package-data)."""
