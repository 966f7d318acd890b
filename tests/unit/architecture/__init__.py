"""Tests of how the code is laid out: the import graph."""
