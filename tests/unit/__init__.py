"""Tests of one part on its own, in process."""
