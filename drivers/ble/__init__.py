"""BLE: one long-lived bleak scanner, advert records and beacon decoders."""

from drivers.ble.adverts import Advert
from drivers.ble.driver import BLEDriver

__all__ = ["Advert", "BLEDriver"]
