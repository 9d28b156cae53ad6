"""User options: the one home of every default, validated once at the boundary.

:class:`SelectionOptions` (which spikes a map shows), :class:`MapStyle` (how they are
shaded) and :class:`RenderOptions` (scatter or density image) are frozen and check themselves
when built, with messages a user understands. They hold the only copy of each default, in
the instances :data:`SELECTION`, :data:`STYLE` and :data:`RENDER`: ``DriftPlotter``'s
signatures, ``get_amplitudes``, the command line, the viewer, ``plot_drift_map`` and the
workflow's schema and ``config/config.yaml`` take their defaults from them
(``tests/unit/core/test_option_defaults.py`` keeps them all equal). Code below the front
doors receives option objects, or values already checked, and trusts them.

The ``check_*`` functions are the checks themselves, for code that validates one value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from driftqc.errors import OptionError

DECIMATE_TARGET = 100_000
#: how ``decimate="estimate"`` rounds: driftplots' floor (default) or at most the target
ESTIMATE_RULES = ("floor", "at_most")
AMPLITUDE_MODES = ("percentile", "absolute")
SCALINGS = ("linear", "log2", "log10")
RENDERS = ("scatter", "density")
DENSITY_STATISTICS = ("count", "mean_amplitude", "max_amplitude")
#: what ``frame=`` may ask for (see :mod:`driftqc.frames`)
FRAMES = ("saved", "raw", "registered")

Decimate = int | bool | str | None
Scaling = str | tuple[float, float]


def check_decimate(decimate: Decimate) -> int | None:
    """Normalise ``decimate``: None for "estimate", 1 for off, else the factor.

    ``"estimate"`` (or ``True``) thins by a factor worked out from the spike count (see
    :meth:`SelectionOptions.decimation`); ``False``, ``None`` and ``0`` keep every spike; a
    positive integer n keeps every n-th spike.
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


def check_choice(value: object, choices: Sequence[str], name: str) -> str:
    """Validate that ``value`` is one of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise OptionError(f"{name}={value!r}: use one of {listed}")
    return value


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


@dataclass(frozen=True)
class SelectionOptions:
    """Which spikes a drift map shows: label filter, amplitude filter, decimation.

    The names are those of ``DriftPlotter``'s plot methods (driftplots-compatible).

    Attributes
    ----------
    decimate
        ``"estimate"`` thins to about :data:`DECIMATE_TARGET` spikes (see
        ``estimate_rule``), an integer n keeps every n-th spike, ``False``/``None``/``0``
        keeps all.
    exclude_noise
        ``True`` drops spikes of clusters labelled noise in the preferred label file; a
        string names the label source (``"group"``, ``"KSLabel"``, ...).
    filter_amplitude_mode
        ``"percentile"``, ``"absolute"`` or None (no amplitude filter).
    filter_amplitude_values
        ``(low, high)`` bounds, inclusive: percentiles (0–100) or absolute amplitudes.
    good_units_only
        driftplots 0.2's label filter: ``True`` keeps only spikes of clusters labelled good
        in the preferred label file (unlabelled clusters are dropped); a string names the
        label source, as for ``exclude_noise``. With ``exclude_noise`` as well, both apply,
        noise first (each may name its own source).
    frame
        Depth frame to draw: ``"saved"`` (default: as the folder holds them), ``"raw"``
        or ``"registered"`` (see :mod:`driftqc.frames`).
    estimate_rule
        How ``decimate="estimate"`` rounds the factor for n spikes: ``"floor"`` (default,
        as driftplots) keeps every ``n // 100_000``-th spike: fewer than 200 000 spikes are
        not thinned, larger sessions draw 100 000–150 000 points; ``"at_most"`` keeps every
        ``ceil(n / 100_000)``-th spike, never more than 100 000 points.

    Raises
    ------
    OptionError
        When built with a value that is out of range or of the wrong kind.

    Examples
    --------
    >>> SelectionOptions(exclude_noise=True).decimation(250_000)
    2
    >>> SelectionOptions(estimate_rule="at_most").decimation(250_000)
    3
    """

    decimate: Decimate = "estimate"
    exclude_noise: bool | str = False
    filter_amplitude_mode: str | None = None
    filter_amplitude_values: tuple[float, ...] = ()
    good_units_only: bool | str = False
    estimate_rule: str = "floor"
    frame: str = "saved"

    def __post_init__(self) -> None:
        check_decimate(self.decimate)
        check_choice(self.frame, FRAMES, "frame")
        for name in ("exclude_noise", "good_units_only"):
            value = getattr(self, name)
            if not isinstance(value, bool | str):
                raise OptionError(f"{name}={value!r}: use True/False or a label source name")
        check_choice(self.estimate_rule, ESTIMATE_RULES, "estimate_rule")
        checked = check_amplitude_filter(self.filter_amplitude_mode, self.filter_amplitude_values)
        values = () if checked is None else checked[1]
        object.__setattr__(self, "filter_amplitude_values", tuple(values))

    @property
    def amplitude_filter(self) -> tuple[str, tuple[float, float]] | None:
        """``(mode, (low, high))``, or None when no amplitude filter is asked for."""
        if self.filter_amplitude_mode is None:
            return None
        low, high = self.filter_amplitude_values
        return self.filter_amplitude_mode, (low, high)

    @property
    def label_filters(self) -> bool:
        """Whether any label filter (``exclude_noise``, ``good_units_only``) is asked for."""
        return bool(self.exclude_noise) or bool(self.good_units_only)

    def decimation(self, n_spikes: int) -> int:
        """Return the thinning factor for ``n_spikes`` spikes (1: every spike drawn).

        For ``decimate="estimate"``: ``n_spikes // 100_000`` (``estimate_rule="floor"``, as
        driftplots) or ``ceil(n_spikes / 100_000)`` (``"at_most"``), at least 1.
        """
        factor = check_decimate(self.decimate)
        if factor is not None:
            return factor
        if self.estimate_rule == "at_most":
            return max(1, math.ceil(n_spikes / DECIMATE_TARGET))
        return max(1, n_spikes // DECIMATE_TARGET)


@dataclass(frozen=True)
class MapStyle:
    """How a drift map shades and draws its spikes.

    Attributes
    ----------
    amplitude_cmap_scaling
        ``"linear"``, ``"log2"``, ``"log10"`` of the amplitudes, or an explicit
        ``(low, high)`` amplitude range, mapped to grey levels.
    n_color_bins
        Number of grey levels (1–256).
    point_size
        Marker area in pt² (matplotlib) or marker diameter in pixels (viewer).

    Raises
    ------
    OptionError
        When built with a value that is out of range or of the wrong kind.
    """

    amplitude_cmap_scaling: Scaling = "linear"
    n_color_bins: int = 20
    point_size: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "amplitude_cmap_scaling", check_scaling(self.amplitude_cmap_scaling)
        )
        object.__setattr__(self, "n_color_bins", check_n_bins(self.n_color_bins))
        object.__setattr__(self, "point_size", check_positive(self.point_size, "point_size"))

    @classmethod
    def given(
        cls,
        style: MapStyle | None,
        amplitude_cmap_scaling: Scaling,
        n_color_bins: int,
        point_size: float,
    ) -> MapStyle:
        """Return ``style``, or one built from the separate keywords when it is None.

        A function that takes both a ``style=`` object and the three style keywords calls
        this; giving ``style`` together with a keyword changed from its default is a
        ``TypeError`` (two answers to one question).
        """
        if style is None:
            return cls(amplitude_cmap_scaling, n_color_bins, point_size)
        if (
            amplitude_cmap_scaling is not STYLE.amplitude_cmap_scaling
            or n_color_bins is not STYLE.n_color_bins
            or point_size is not STYLE.point_size
        ):
            raise TypeError("give either style= or the style keywords, not both")
        return style


@dataclass(frozen=True)
class RenderOptions:
    """How a static (matplotlib) drift map renders the spikes it is given.

    Attributes
    ----------
    render
        ``"scatter"`` (one point per decimated spike) or ``"density"`` (every kept spike
        binned into a time × depth image).
    density_statistic
        For ``render="density"``: ``"count"``, ``"mean_amplitude"`` or ``"max_amplitude"``.

    Raises
    ------
    OptionError
        When built with a value that is not one of the choices.
    """

    render: str = "scatter"
    density_statistic: str = "count"

    def __post_init__(self) -> None:
        check_choice(self.render, RENDERS, "render")
        check_choice(self.density_statistic, DENSITY_STATISTICS, "density_statistic")


#: the defaults, for signatures: ``def f(decimate: Decimate = SELECTION.decimate)``
SELECTION = SelectionOptions()
STYLE = MapStyle()
RENDER = RenderOptions()
