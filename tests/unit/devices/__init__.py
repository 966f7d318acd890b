"""Tests: the device kind registry and what derives from it."""
