"""What the ble kind needs beyond the base install: bleak scans (and its types carry replayed adverts)."""

from gateway.devices.extras import Needs

NEEDS = Needs(extra="ble", modules=("bleak",))
