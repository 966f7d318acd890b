"""Tests: outbox."""
