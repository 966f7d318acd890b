"""Integration of the synthetic device kind: wires its driver to its pipeline."""

# Nothing to check and no part in the demo: only config, needs and runner (see gateway/devices/__init__.py).
OPTIONAL_PARTS = ()
