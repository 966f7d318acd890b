"""Tests: diag (the status socket, served in-process)."""
