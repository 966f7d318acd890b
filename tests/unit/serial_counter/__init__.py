"""Tests: serial counter."""
