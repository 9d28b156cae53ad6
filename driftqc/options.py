"""Validation of user options, done once at the boundary with messages a user understands.

Every public entry point (the seed API, the CLI, the workflow) passes its filter and shading
options through these checks, so the rest of the code can trust them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from driftqc.errors import OptionError

DECIMATE_TARGET = 100_000
AMPLITUDE_MODES = ("percentile", "absolute")
SCALINGS = ("linear", "log2", "log10")

Decimate = int | bool | str | None
Scaling = str | tuple[float, float]


def check_decimate(decimate: Decimate) -> int | None:
    """Normalise ``decimate``: None for "estimate", 1 for off, else the factor.

    ``"estimate"`` (or ``True``) thins to at most ``DECIMATE_TARGET`` spikes; ``False``,
    ``None`` and ``0`` keep every spike; a positive integer n keeps every n-th spike.
    """
    if decimate is True or decimate == "estimate":
        return None
    if decimate is False or decimate is None:
        return 1
    if isinstance(decimate, str):
        raise OptionError(
            f"decimate={decimate!r}: use 'estimate', False/None/0 or a positive integer"
        )
    try:
        factor = float(decimate)
    except (TypeError, ValueError):
        raise OptionError(f"decimate={decimate!r} is not a number") from None
    if not math.isfinite(factor) or factor < 0 or factor != int(factor):
        raise OptionError(f"decimate={decimate!r} must be a non-negative whole number")
    return max(int(factor), 1)


def check_amplitude_filter(
    mode: str | None, values: Sequence[float]
) -> tuple[str, tuple[float, float]] | None:
    """Validate the amplitude filter; return ``(mode, (low, high))`` or None when off."""
    if mode is None:
        return None
    if mode not in AMPLITUDE_MODES:
        raise OptionError(f"filter_amplitude_mode={mode!r}: use 'percentile', 'absolute' or None")
    bounds = _two_numbers(values, "filter_amplitude_values")
    low, high = bounds
    if low > high:
        raise OptionError(f"filter_amplitude_values={tuple(values)}: low is above high")
    if mode == "percentile" and not (0 <= low <= 100 and 0 <= high <= 100):
        raise OptionError(
            f"filter_amplitude_values={tuple(values)}: percentiles must lie in 0..100"
        )
    return mode, bounds


def check_scaling(scaling: object) -> Scaling:
    """Validate ``amplitude_cmap_scaling``: a scaling name or an explicit (low, high)."""
    if isinstance(scaling, str):
        if scaling not in SCALINGS:
            raise OptionError(
                f"amplitude_cmap_scaling={scaling!r}: use one of {list(SCALINGS)} or (low, high)"
            )
        return scaling
    low, high = _two_numbers(scaling, "amplitude_cmap_scaling")  # type: ignore[arg-type]
    if not low < high:
        raise OptionError(f"amplitude_cmap_scaling={scaling!r}: low must be below high")
    return (low, high)


def check_n_bins(n_color_bins: object) -> int:
    """Validate ``n_color_bins``: a whole number from 1 to 256."""
    if isinstance(n_color_bins, bool) or not isinstance(n_color_bins, int | float):
        raise OptionError(f"n_color_bins={n_color_bins!r} must be a whole number")
    if n_color_bins != int(n_color_bins) or not 1 <= n_color_bins <= 256:
        raise OptionError(f"n_color_bins={n_color_bins!r} must be a whole number from 1 to 256")
    return int(n_color_bins)


def check_positive(value: object, name: str) -> float:
    """Validate a strictly positive finite number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"{name}={value!r} is not a number") from None
    if not (math.isfinite(number) and number > 0):
        raise OptionError(f"{name}={value!r} must be a positive number")
    return number


def _two_numbers(values: object, name: str) -> tuple[float, float]:
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) != 2:
        raise OptionError(f"{name}={values!r}: give two numbers (low, high)")
    try:
        low, high = (float(v) for v in values)
    except (TypeError, ValueError):
        raise OptionError(f"{name}={values!r}: give two numbers (low, high)") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise OptionError(f"{name}={values!r}: bounds must be finite")
    return low, high
