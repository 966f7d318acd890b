"""Config of LLRP RFID readers: our own validated reader settings, mapped onto sllurp's."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from gateway.devices.base_config import DeviceConfig

Antenna = Annotated[int, msgspec.Meta(ge=1, le=64)]


class LLRPConfig(DeviceConfig, tag="llrp"):
    """An LLRP reader reached over TCP, its antennas and the zones they watch."""

    host: Annotated[str, msgspec.Meta(min_length=1)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 5084
    antennas: Annotated[list[Antenna], msgspec.Meta(min_length=1)] = msgspec.field(default_factory=lambda: [1])
    power_dbm: Annotated[float, msgspec.Meta(ge=0, le=33, description="transmit power; None = reader maximum")] \
        | None = None
    mode: Annotated[int, msgspec.Meta(ge=0, description="RF mode identifier from the reader's mode table")] \
        | None = None
    session: Literal[0, 1, 2, 3] = 2
    tag_population: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 32
    search_mode: Literal["single", "dual", "single-with-suppression"] | None = None
    report_every_n_tags: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 200
    report_timeout_ms: Annotated[int, msgspec.Meta(ge=50, le=60000)] = 500
    impinj_extensions: bool = False
    silence_timeout_s: Annotated[float, msgspec.Meta(ge=2, le=600, description="no keepalive or report this long = "
                                                     "reader gone; reconnect")] = 10.0
    zones: Annotated[dict[str, str], msgspec.Meta(description='antenna number -> zone name, e.g. {"1" = '
                                                  '"sales-floor", "4" = "exit"}')] = msgspec.field(default_factory=dict)
    exit_zones: list[str] = msgspec.field(default_factory=lambda: ["exit"])
    departed_after_s: Annotated[float, msgspec.Meta(ge=10)] = 600.0
    cycle_s: Annotated[float, msgspec.Meta(ge=5, description="stock count every cycle_s")] = 300.0
    hysteresis_db: Annotated[float, msgspec.Meta(ge=0, le=30)] = 6.0
    max_tags: Annotated[int, msgspec.Meta(ge=1000)] = 200_000

    def __post_init__(self) -> None:
        """Zones must name configured antennas."""
        for antenna in self.zones:
            if not antenna.isdigit() or int(antenna) not in self.antennas:
                raise ValueError(f"zones key {antenna!r} is not one of the configured antennas {self.antennas}")

    def sllurp_settings(self) -> dict[str, Any]:
        """Our settings in LLRPReaderConfig's terms (it ignores unknown keys, so we build them here)."""
        settings: dict[str, Any] = {"antennas": list(self.antennas), "session": self.session,
                                    "tag_population": self.tag_population,
                                    "report_every_n_tags": self.report_every_n_tags,
                                    "report_timeout_ms": self.report_timeout_ms}
        if self.power_dbm is not None:
            settings["tx_power_dbm"] = self.power_dbm
        if self.mode is not None:
            settings["mode_identifier"] = self.mode
        if self.impinj_extensions:
            settings["impinj_reports"] = True
            settings["impinj_search_mode"] = {"single": 1, "dual": 2, "single-with-suppression": 3}.get(
                self.search_mode or "dual", 2)
        return settings
