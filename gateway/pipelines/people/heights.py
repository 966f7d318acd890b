"""The typical adult box height where a person stands, learnt from the people the camera sees.

Perspective without calibration. On a flat floor seen by a pinhole camera a person's box height is close
to linear in the image row of their feet, ``h ≈ a·(y − y_horizon)``, so the model fits that line over
every track it has seen: each track gives one (feet, height) point per grid cell it stood in (medians
over its frames there), and the line is a *quantile* regression at ``percentile`` (70th: children,
occluded people and people cut by the frame make boxes shorter, never taller, and a quantile fit is not
dragged down by points under it, only by how many there are). Solved by iteratively reweighted least
squares on ``numpy.linalg.lstsq``; refitted lazily, at most once per track that ends.

The line decides once ``warmup`` heights were learnt (one per track and cell, as a row pool counts
them: the line is never colder than a row pool), when it rises towards the camera (slope ≥ 0), when the
feet seen span at least one grid row (else its slope is noise), and only for feet within
``fit_margin_rows`` (one) grid row of the highest and lowest feet seen (no further extrapolation).
Elsewhere the older statistic stands in: the cell's own percentile once it holds ``warmup`` heights,
else its row's pooled heights. The row pool alone was wrong where one row spans two depths
(bench/RESULTS.md, TUD-Stadtmitte): its percentile landed on the near, tall people and a far adult
looked like a child. Before any of these is warm: no answer.
Only numbers are kept, bounded: per cell and row pool ``history`` heights, ``fit_history`` (x, y, height)
points for the line, and the line's two coefficients.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Cell = tuple[int, int]
Point = tuple[float, float, float]
"""Feet x, feet y (the bottom centre of the box) and box height, pixels."""


@dataclass(frozen=True)
class HeightSettings:
    """Grid, memory, warm-up and perspective fit of the height model."""

    grid: tuple[int, int] = (8, 6)
    """Columns and rows over the frame, when ``frame_size`` is known."""
    frame_size: tuple[int, int] | None = None
    """Width and height of the frame in pixels; None: square cells of ``cell_px``."""
    cell_px: float = 80.0
    history: int = 50
    """Tracks remembered per cell (and per row pool)."""
    warmup: int = 20
    """Heights (one per track and cell) the fit, a cell or a row pool must hold before it decides."""
    percentile: float = 70.0
    max_cells: int = 512
    fit_history: int = 300
    """(feet, height) points remembered for the perspective fit, one per track and cell."""
    fit_margin_rows: float = 1.0
    """How far beyond the feet seen, in grid rows, the fitted line is still used."""
    perspective: bool = True
    """Fit the line at all (False: cells and row pools only, the older rule)."""


END_POINTS = 2
"""Learnt heights that must lie at or beyond each end of the range the perspective line answers for."""


def quantile_line(y: np.ndarray, h: np.ndarray, quantile: float, iterations: int = 60) -> tuple[float, float]:
    """Slope and intercept of the ``quantile`` regression of ``h`` on ``y`` (IRLS; ``y`` of some spread)."""
    centre = float(y.mean())
    design = np.column_stack([y - centre, np.ones_like(y)])  # centred: a well-conditioned 2-column system
    beta = np.linalg.lstsq(design, h, rcond=None)[0]
    floor = max(1e-3 * float(np.abs(h).mean()), 1e-6)  # caps the weight of points right on the line
    for _ in range(iterations):
        residual = h - design @ beta
        weight = np.where(residual > 0, quantile, 1.0 - quantile) / np.maximum(np.abs(residual), floor)
        root = np.sqrt(weight)
        new = np.linalg.lstsq(design * root[:, None], h * root, rcond=None)[0]
        done = bool(np.all(np.abs(new - beta) < 1e-4 * (1.0 + np.abs(beta))))
        beta = new
        if done:
            break
    slope, level = float(beta[0]), float(beta[1])
    return slope, level - slope * centre


class HeightModel:
    """Adult box height by where the feet are: a perspective line, with per-cell statistics standing in."""

    def __init__(self, settings: HeightSettings | None = None) -> None:
        self.settings = settings or HeightSettings()
        self._cells: OrderedDict[Cell, deque[float]] = OrderedDict()
        self._rows: dict[int, deque[float]] = {}
        self._points: deque[Point] = deque(maxlen=self.settings.fit_history)
        self._learnt = 0
        """Heights learnt, ever (one per track and cell: the fit warms up in the unit the row pools do)."""
        self._line: tuple[float, float, float, float] | None = None
        """Slope, intercept, lowest and highest feet y it may answer for; None: not trusted."""
        self._stale = False

    def row_px(self) -> float:
        """Height of one grid row in pixels."""
        s = self.settings
        return s.frame_size[1] / max(s.grid[1], 1) if s.frame_size is not None else s.cell_px

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

    def add_track(self, points: Sequence[Point]) -> None:
        """One ended track's typical box height per cell it stood in, with where its feet were there."""
        if not points:
            return
        for x, y, height in points:
            self.add(self.cell_of(x, y), height)
            self._points.append((float(x), float(y), float(height)))
            self._learnt += 1
        self._stale = True  # refitted when next asked: tracks end far more often than crossings are judged

    def add(self, cell: Cell, height: float) -> None:
        """One height (pixels) into a cell's statistic and its row's pool (not into the fit)."""
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

    def _refit(self) -> None:
        """Fit the perspective line, keeping it only when it may be trusted."""
        self._stale, self._line = False, None
        s = self.settings
        if not s.perspective or self._learnt < s.warmup or len(self._points) < 3:
            return
        y = np.fromiter((p[1] for p in self._points), dtype=np.float64, count=len(self._points))
        h = np.fromiter((p[2] for p in self._points), dtype=np.float64, count=len(self._points))
        ends = np.sort(y)
        if len(ends) < 2 * END_POINTS:
            return
        # the range the line answers for ends where END_POINTS heights stand at or beyond it: a single track far
        # away (or two people merged into one box there) must not set the line's far end on its own
        low, high = float(ends[END_POINTS - 1]), float(ends[-END_POINTS])
        row = self.row_px()
        if high - low < row:
            return  # feet seen over less than a row: the slope is noise; the row pool says the same there
        slope, intercept = quantile_line(y, h, s.percentile / 100.0)
        if slope < 0:
            return  # taller further away: not a camera looking down on a floor; the cells know better
        margin = s.fit_margin_rows * row
        self._line = (slope, intercept, low - margin, high + margin)

    def _grid_height(self, cell: Cell) -> float | None:
        """The cell's percentile once warm, else its row's; None before warm-up."""
        for samples in (self._cells.get(cell), self._rows.get(cell[1])):
            if samples is not None and len(samples) >= self.settings.warmup:
                return float(np.percentile(np.fromiter(samples, dtype=np.float64), self.settings.percentile))
        return None

    def adult_height(self, x: float, y: float) -> float | None:
        """The adult box height for feet at (x, y): the fitted line where trusted, else the grid's; None before warm."""
        if self._stale:
            self._refit()
        line = self._line
        if line is not None and line[2] <= y <= line[3]:
            height = line[0] * y + line[1]
            if height > 0:
                return height
        return self._grid_height(self.cell_of(x, y))

    def line(self) -> tuple[float, float] | None:
        """The trusted perspective line's slope and intercept (pixels of height per pixel of feet y), if any."""
        if self._stale:
            self._refit()
        return None if self._line is None else (self._line[0], self._line[1])

    def samples(self) -> dict[Cell, list[float]]:
        """Every cell's remembered heights (a copy; for inspection and tests)."""
        return {cell: list(values) for cell, values in self._cells.items()}

    def size(self) -> int:
        """Numbers held in all (cells, row pools and the fit's points)."""
        return (sum(len(v) for v in self._cells.values()) + sum(len(v) for v in self._rows.values())
                + 3 * len(self._points))
