"""Integration of the llrp device kind: wires its driver to its pipeline."""
