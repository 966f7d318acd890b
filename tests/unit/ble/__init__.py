"""Tests: ble."""
