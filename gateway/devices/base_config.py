"""Fields every device shares, whatever its kind."""

from __future__ import annotations

from typing import Annotated

import msgspec

DeviceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                       description="Unique device id; used as the event subject")]


class DeviceConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    """Base of every `[[devices]]` entry; `kind` selects the subclass."""

    id: DeviceId
    enabled: bool = True
