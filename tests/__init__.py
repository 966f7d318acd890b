"""Tests: unit/ (one folder per area, no peer processes), integration/ (real peers), support/ (helpers)."""
