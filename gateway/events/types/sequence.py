"""Payload of the outbox's own notice that sequence numbers were skipped."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Seq = Annotated[int, msgspec.Meta(ge=1)]


class SequenceGapData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Numbers from_seq..to_seq will never be published (again) by this gateway: do not ask cmd/replay for them.

    database-corrupt, database-missing: they were never given to an event (only when a corrupt
    database no longer told its last number can the first of them have been events lost with it,
    counted in the health event's `outbox.dropped.corrupt`). clock-floor: both local files were
    lost, so from_seq is 1 and nothing is known of the numbers below to_seq: those a consumer has
    not received were lost with the files or never issued. This event itself has sequence to_seq + 1.
    """

    from_seq: Seq
    to_seq: Seq
    reason: Annotated[Literal["database-corrupt", "database-missing", "clock-floor"], msgspec.Meta(
        description="database-corrupt: the database was set aside and numbering continues past the state "
        "file's reservation; database-missing: the database was gone, same; clock-floor: the database and "
        "the state file were both lost, so numbering continues above (unix time - 1,700,000,000) x 20,000")]
