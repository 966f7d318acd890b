"""Integration of the synthetic device kind: wires its driver to its pipeline."""
