"""Integration of the serial_counter device kind: wires its driver to its pipeline."""
