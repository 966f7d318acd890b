"""LLRP RFID readers through sllurp."""

from drivers.llrp.driver import LLRPDriver, TagRead

__all__ = ["LLRPDriver", "TagRead"]
