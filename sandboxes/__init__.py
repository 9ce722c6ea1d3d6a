"""Stand-ins for the vendors: HTTP servers on loopback that speak each vendor's documented API.

Nothing in `pipelines/` or `assets/` imports this package at module level: a run against
real vendors never loads it. `turnout demo`, `turnout sandbox`, the tests and the benchmark
find a vendor's sandbox through `sandboxes.registry`.
"""
