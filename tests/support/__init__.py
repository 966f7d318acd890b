"""Helpers shared by the tests: brokers, certificates, daemon peers, proxies, paths."""
