"""Integration of the llrp device kind: wires its driver to its pipeline."""

# Besides config, needs and runner, this folder has these parts (see gateway/devices/__init__.py).
OPTIONAL_PARTS = ("doctor", "demo")
