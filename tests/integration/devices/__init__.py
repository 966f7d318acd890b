"""Tests: devices."""
