"""Tests: rfid."""
