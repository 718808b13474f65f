"""retailer5 "Harper, Finch & Co.": a wholesale partner without an API. It drops CSV files
into the lake bucket's inbox (`inbox/retailer5/`), one batch per date, in pounds (GBP).

`files.py` writes a date's files from the same generator world as the other retailers
(deterministic by seed and date), with the quirks and faults real partner files have;
`drop.py` uploads them. The file contract is in docs/retailers.md ("retailer5").
"""
