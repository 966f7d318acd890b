"""What the synthetic kind needs beyond the base install (nothing)."""

from gateway.devices.extras import Needs

NEEDS = Needs()
