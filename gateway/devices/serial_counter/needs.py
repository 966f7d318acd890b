"""What the serial_counter kind needs beyond the base install (nothing: pyserial is in it)."""

from gateway.devices.extras import Needs

NEEDS = Needs()
