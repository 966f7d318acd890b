"""storegw's own chaos suite: randomised faults against a real daemon and a real mosquitto (see README.md)."""
