"""Config of staff badges heard by a BLE door scanner, shared by camera lines and serial counters.

A camera line's ``staff = {...}`` adds uniforms to these (``camera/staff_config.py``); a serial counter's
``staff = {...}`` is these alone (no image, so no uniform). ``config check`` refuses a ``badge_scanner``
that is not the id of a ``ble`` device (``gateway/config/load.py``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Uuid = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")]
Rssi = Annotated[int, msgspec.Meta(ge=-127, le=20)]
UUID_TEXT = "iBeacon/AltBeacon UUID every staff badge sends"
SCANNER_TEXT = "id of the BLE device (door scanner) that hears the badges"


class BadgeOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Staff badges: a beacon of ``badge_uuid`` heard at the door scanner near a crossing makes it staff."""

    badge_uuid: Annotated[Uuid | None, msgspec.Meta(description=UUID_TEXT)] = None
    badge_scanner: Annotated[str, msgspec.Meta(description=SCANNER_TEXT)] = ""
    badge_rssi_min: Annotated[Rssi, msgspec.Meta(description="weakest signal that means at the door")] = -70
    badge_window_s: Annotated[float, msgspec.Meta(gt=0, le=60, description="seconds either side of a "
                                                  "crossing (a serial counter: of the reading that "
                                                  "counted it)")] = 5.0


class CounterStaffConfig(BadgeOptions, kw_only=True, forbid_unknown_fields=True):
    """Staff on a serial counter: by badge only (a counter sees no uniform); off until set."""

    # required here: a counter's staff block is a badge check and nothing else
    badge_uuid: Annotated[Uuid, msgspec.Meta(description=UUID_TEXT)]
    badge_scanner: Annotated[str, msgspec.Meta(min_length=1, description=SCANNER_TEXT)]
