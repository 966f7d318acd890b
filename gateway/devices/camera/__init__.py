"""Integration of the camera device kind: wires its driver to its pipeline."""
