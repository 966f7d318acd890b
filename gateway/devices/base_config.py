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

    @property
    def kind(self) -> str:
        """The `kind` this entry was written with, e.g. "llrp"."""
        return kind_of(type(self))


def kind_of(config_class: type[DeviceConfig]) -> str:
    """The `kind` value that selects ``config_class`` in a config file (its msgspec tag)."""
    return str(config_class.__struct_config__.tag)
