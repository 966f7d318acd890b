"""Tests: mqtt (the parts that need no broker)."""
