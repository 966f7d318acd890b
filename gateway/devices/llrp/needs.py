"""What the llrp kind needs beyond the base install: sllurp speaks LLRP, epcpy decodes the EPCs."""

from gateway.devices.extras import Needs

NEEDS = Needs(extra="rfid", modules=("sllurp", "epcpy"))
