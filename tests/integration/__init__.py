"""Tests against real peers: mosquitto, the daemon as a process, emulators over TCP and ptys."""
