"""A camera's customer crossings, one by one, for `storegw audit` (through DeviceContext.crossed).

The audit compares the technician's tally with the device's ``in``/``out``, which leave out the
crossings a rule (staff, child) claims. ``pipeline.crossings`` keeps every crossing, whoever made it
(the bench's accuracy is about people), so it is not what the audit must see. ``pipeline.totals``
counts exactly the crossings that went to ``in``/``out``, and every crossing a call counts has that
call's frame time, so the growth of ``totals`` over one call is that frame's customer crossings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the pipeline pulls numpy in; this module is imported with the runner
    from gateway.devices.context import DeviceContext
    from gateway.pipelines.footfall import FootfallPipeline


class CustomerCrossings:
    """Tells the context each new customer crossing of the pipeline's counting lines, and how far it has counted."""

    def __init__(self, pipeline: FootfallPipeline) -> None:
        """Start from the pipeline's current totals (nothing counted before is told again)."""
        self.pipeline = pipeline
        self._seen = {line: list(counts) for line, counts in pipeline.totals.items()}

    def report(self, ctx: DeviceContext, now: float) -> None:
        """After a processed frame (or ``finish``) at ``now``: its crossings, and a mark for each quiet line."""
        for line, counts in self.pipeline.totals.items():
            seen = self._seen.setdefault(line, [0, 0])
            told = False
            for index, direction in enumerate(("in", "out")):
                people = counts[index] - seen[index]
                if people > 0:
                    ctx.crossed(line, direction, now, None, people)
                    told = True
                seen[index] = counts[index]
            if not told:
                ctx.crossed(line, "in", now, None, 0)  # nobody crossed: this line has been counted up to now
