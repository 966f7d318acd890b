"""Serial people counters: the ASCII line protocol and Terabee's binary frame."""

from drivers.serial_counter.driver import SerialCounterDriver
from drivers.serial_counter.readings import CounterReading

__all__ = ["CounterReading", "SerialCounterDriver"]
