"""An LLRP 1.0.1 reader emulator, encoded from the specification."""
