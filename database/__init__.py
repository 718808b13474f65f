"""The warehouse's SQL, shipped as package data: `init/NN_*.sql` (schemas and tables, applied
in order) and `marts/` (one SQL model per mart, run by the marts refresh)."""
