"""The typical adult box height per image region, learnt from the people the camera sees.

Perspective without calibration: a person's box is taller near the camera than far from it, so the
frame is cut into a coarse grid (by where a person stands, the bottom centre of the box) and each cell
keeps the heights of the last ``history`` tracks that stood there. The adult height of a cell is a high
percentile of them (children and people cut by the frame make boxes shorter, never taller). A cell
decides only after ``warmup`` tracks; until then its row's pooled heights stand in (perspective changes
mostly with the distance from the camera, i.e. with the row), and before either is warm: no answer.
Only numbers are kept: one height (pixels) per track and cell, bounded per cell and in cells.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np

Cell = tuple[int, int]


@dataclass(frozen=True)
class HeightSettings:
    """Grid, memory and warm-up of the height model."""

    grid: tuple[int, int] = (8, 6)
    """Columns and rows over the frame, when ``frame_size`` is known."""
    frame_size: tuple[int, int] | None = None
    """Width and height of the frame in pixels; None: square cells of ``cell_px``."""
    cell_px: float = 80.0
    history: int = 50
    """Tracks remembered per cell (and per row pool)."""
    warmup: int = 20
    """Tracks a cell (or its row) must have seen before it decides."""
    percentile: float = 70.0
    max_cells: int = 512


class HeightModel:
    """Per-cell running statistic of adult box heights."""

    def __init__(self, settings: HeightSettings | None = None) -> None:
        self.settings = settings or HeightSettings()
        self._cells: OrderedDict[Cell, deque[float]] = OrderedDict()
        self._rows: dict[int, deque[float]] = {}

    def cell_of(self, x: float, y: float) -> Cell:
        """The grid cell of a point (clamped to the frame when its size is known)."""
        s = self.settings
        if s.frame_size is None:
            return int(max(x, 0.0) // s.cell_px), int(max(y, 0.0) // s.cell_px)
        cols, rows = s.grid
        width, height = s.frame_size
        col = min(max(int(x * cols / max(width, 1)), 0), cols - 1)
        row = min(max(int(y * rows / max(height, 1)), 0), rows - 1)
        return col, row

    def add(self, cell: Cell, height: float) -> None:
        """One track's typical box height (pixels) where it stood."""
        samples = self._cells.get(cell)
        if samples is None:
            if len(self._cells) >= self.settings.max_cells:
                self._cells.popitem(last=False)  # the least recently fed cell goes: memory stays bounded
            samples = self._cells[cell] = deque(maxlen=self.settings.history)
        else:
            self._cells.move_to_end(cell)
        samples.append(float(height))
        row = self._rows.get(cell[1])
        if row is None:
            if len(self._rows) >= self.settings.max_cells:
                self._rows.pop(next(iter(self._rows)))
            row = self._rows[cell[1]] = deque(maxlen=self.settings.history)
        row.append(float(height))

    def adult_height(self, cell: Cell) -> float | None:
        """The cell's adult box height once warm (else its row's), None before warm-up."""
        for samples in (self._cells.get(cell), self._rows.get(cell[1])):
            if samples is not None and len(samples) >= self.settings.warmup:
                return float(np.percentile(np.fromiter(samples, dtype=np.float64), self.settings.percentile))
        return None

    def samples(self) -> dict[Cell, list[float]]:
        """Every cell's remembered heights (a copy; for inspection and tests)."""
        return {cell: list(values) for cell, values in self._cells.items()}

    def size(self) -> int:
        """Numbers held in all (cells and row pools)."""
        return sum(len(v) for v in self._cells.values()) + sum(len(v) for v in self._rows.values())
