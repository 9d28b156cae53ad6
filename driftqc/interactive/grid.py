"""Arranging several sessions' drift maps on a grid (pure arithmetic, no Qt).

Automatic grids are as square as possible with columns first: ``n_cols = ceil(sqrt(N))``,
``n_rows = ceil(N / n_cols)`` (1 → 1×1, 2 → 1×2, 3 → 2×2, 5 → 2×3, 9 → 3×3). An explicit
``(rows, cols)`` is accepted when it has room for every panel and no empty row or column
(panels fill the grid row by row, so: ``rows * cols >= N``, the last row gets at least one
panel, and ``cols <= N``); otherwise it is a :class:`ValueError` that says what is wrong. The
reference implementation demanded ``rows * cols == N`` exactly, which forbids e.g. 2×3 for five
sessions; an empty trailing cell is harmless, an empty row or column is a mistake.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def grid_shape(n_panels: int, grid: Sequence[int] | None = None) -> tuple[int, int]:
    """Rows and columns for ``n_panels`` panels.

    Parameters
    ----------
    n_panels
        Number of panels (at least 1).
    grid
        ``(rows, cols)`` to use, or None for the automatic grid.

    Returns
    -------
    tuple of int
        ``(n_rows, n_cols)``.

    Raises
    ------
    ValueError
        No panels, a malformed grid, or a grid too small for the panels or with an empty row
        or column.

    Examples
    --------
    >>> grid_shape(5)
    (2, 3)
    >>> grid_shape(3, (1, 3))
    (1, 3)
    """
    if n_panels < 1:
        raise ValueError("no panels to show: give at least one DriftmapPlotWidget")
    if grid is None:
        n_cols = math.ceil(math.sqrt(n_panels))
        return math.ceil(n_panels / n_cols), n_cols
    try:
        rows, cols = (int(v) for v in grid)
        valid = all(float(v) == int(v) for v in grid)
    except (TypeError, ValueError):
        raise ValueError(f"grid must be (rows, cols), got {grid!r}") from None
    if not valid or rows < 1 or cols < 1:
        raise ValueError(f"grid must be two positive whole numbers, got {grid!r}")
    if rows * cols < n_panels:
        raise ValueError(
            f"grid {rows}×{cols} has room for {rows * cols} panels but {n_panels} were given"
        )
    if (rows - 1) * cols >= n_panels or cols > n_panels:
        raise ValueError(
            f"grid {rows}×{cols} leaves a whole row or column empty for {n_panels} panels; "
            f"use e.g. {grid_shape(n_panels)} or omit grid"
        )
    return rows, cols
