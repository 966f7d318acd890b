"""Tests: storegw fleet simulate as a subprocess against a real mosquitto."""
