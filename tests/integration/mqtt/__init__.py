"""Tests: mqtt, in-process against a real mosquitto."""
