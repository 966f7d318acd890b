"""Integration of the ble device kind: wires its driver to its pipeline."""
