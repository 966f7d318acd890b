"""Protocol-level device emulators: product code for the demo, technicians and tests."""
