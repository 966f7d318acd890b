"""Tests: release."""
