"""Drawing drift maps with matplotlib.

A drift map puts every spike at (time, depth): x is time in seconds, y is depth along the
probe in µm with larger y higher up, as in probe coordinates (the tip at the bottom). Spikes
are shaded by amplitude in grey bins (:mod:`driftqc.views.shading`). Two renderings:

* ``"scatter"``: the classic look, one point per spike of the (decimated) selection;
* ``"density"``: every spike that passed the filters binned into a time × depth image, so a
  whole session is shown without decimation and without overplotting.

An optional depth histogram on the left shares the depth axis and is computed from every
spike that passed the filters, decimated or not. Every figure carries a caption saying
which session it shows, how many spikes of how many, and which filters were applied.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import (
    LinearSegmentedColormap,
    ListedColormap,
    LogNorm,
    Normalize,
)
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatter
from matplotlib.transforms import ScaledTranslation

from driftqc.metrics.histograms import (
    DEPTH_BIN_UM,
    DensityImage,
    DepthHistogram,
    density_bins,
    density_image,
    depth_histogram,
    value_range,
)
from driftqc.options import RENDER, STYLE, MapStyle, RenderOptions, Scaling
from driftqc.plotting.figure import new_figure
from driftqc.selection import Selection
from driftqc.text import printable
from driftqc.views.shading import LIGHTEST_GREY, AmplitudeShading, amplitude_shading, grey_rgba

if TYPE_CHECKING:
    from driftqc.metrics.streaming import StreamedSummary

Render = Literal["scatter", "density"]
DensityStatistic = Literal["count", "mean_amplitude", "max_amplitude"]
_FIGSIZE = (10.0, 7.5)
_CAPTION_PT = 8.0  # caption font size
_CHAR_EM = 0.6  # mean character width of the caption font, in ems (generous)


def plot_drift_map(
    selection: Selection,
    *,
    scaling: Scaling = STYLE.amplitude_cmap_scaling,
    n_color_bins: int = STYLE.n_color_bins,
    point_size: float = STYLE.point_size,
    histogram: bool = False,
    weight_histogram_by_amplitude: bool = False,
    title: bool | str | None = None,
    ax: Axes | None = None,
    figure: Figure | None = None,
    render: Render = RENDER.render,  # type: ignore[assignment]
    density_statistic: DensityStatistic = RENDER.density_statistic,  # type: ignore[assignment]
    density_log: bool = True,
    colorbar: bool = True,
    depth_bin_um: float = DEPTH_BIN_UM,
    style: MapStyle | None = None,
) -> Figure:
    """Draw a drift map of a selection of spikes.

    Parameters
    ----------
    selection
        Spikes to draw (see :func:`driftqc.selection.select_spikes`).
    scaling
        ``amplitude_cmap_scaling`` of ``DriftPlotter`` (the workflow's ``render.scaling``):
        amplitude → grey scaling, ``"linear"``, ``"log2"``, ``"log10"`` or ``(low, high)``.
    n_color_bins
        Number of grey levels.
    point_size
        Marker area in points² (matplotlib's ``s``), as in driftplots.
    histogram
        Add a depth histogram on the left, sharing the depth axis.
    weight_histogram_by_amplitude
        Sum amplitudes per depth bin instead of counting spikes.
    title
        ``True`` for a default title, a string for that title, None/False for none. On a
        new figure it is the figure's title; with ``ax`` it is the title of ``ax``
        (``ax.get_title()``), above the caption (the left title, in both cases).
    ax
        Axes to draw into; by default a new figure is made.
    figure
        Figure to draw into when ``ax`` is None (by default a new headless ``Figure``).
    render
        ``"scatter"`` (decimated points) or ``"density"`` (all kept spikes binned).
    density_statistic
        For ``render="density"``: ``"count"``, ``"mean_amplitude"`` or ``"max_amplitude"``.
    density_log
        Shade the density image on a log scale.
    colorbar
        Add a grey-scale key of the amplitude bins (or density values).
    depth_bin_um
        Bin height of the depth histogram (and of density rows at most), in µm.
    style
        An already checked :class:`driftqc.options.MapStyle` to draw with instead of
        ``scaling``, ``n_color_bins`` and ``point_size`` (leave those at their defaults);
        it is not checked again.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax.figure`` when ``ax`` is given). It is not shown or closed.

    Raises
    ------
    OptionError
        An option out of range (``scaling``, ``n_color_bins``, ``point_size``, ``render``,
        ``density_statistic``).
    TypeError
        ``ax`` is not an Axes, or ``style`` is given together with a style keyword.

    Notes
    -----
    With no spikes left after filtering the axes are drawn empty with a note.

    Examples
    --------
    >>> sel = select_spikes(read_kilosort("ks_output"), exclude_noise=True)  # doctest: +SKIP
    >>> plot_drift_map(sel, histogram=True).savefig("drift_map.png")  # doctest: +SKIP
    """
    style = MapStyle.given(style, scaling, n_color_bins, point_size)
    RenderOptions(render, density_statistic)
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError("ax must be a matplotlib Axes or None")
    kept, shown = selection.kept, selection.shown
    shading = amplitude_shading(kept.amplitudes, style=style)
    info = kept.info

    fig, hist_ax, raster = _axes(ax, figure, histogram)
    depth_lim = _depth_limits(kept.depths)
    time_lim = (0.0, max(kept.duration, 1e-3) * 1.005)
    raster.set_xlim(*time_lim)
    raster.set_ylim(*depth_lim)

    if len(kept) == 0:
        _no_spikes_note(raster)
    elif render == "scatter":
        _draw_scatter(
            raster,
            shown.times,
            shown.depths,
            shading.bin_of(shown.amplitudes),
            shading.n_bins,
            style.point_size,
        )
    else:
        n_time, n_depth = _pixel_grid(fig, raster, depth_lim, depth_bin_um)
        # bins no finer than the spikes fill: a small session is not a hairline sketch
        n_time, n_depth = density_bins(kept.times, kept.depths, time_lim, depth_lim,
                                       max_time_bins=n_time, max_depth_bins=n_depth)  # fmt: skip
        image = density_image(
            kept.times,
            kept.depths,
            kept.amplitudes,
            statistic=density_statistic,
            n_time_bins=n_time,
            n_depth_bins=n_depth,
            time_range=time_lim,
            depth_range=depth_lim,
        )
        _show_density(raster, fig, image, density_log, colorbar, info.amplitude_unit)

    if colorbar and render == "scatter" and len(kept):
        _amplitude_key(fig, raster, shading, info.amplitude_unit)

    raster.set_xlabel("Time (s)")
    if hist_ax is None:
        raster.set_ylabel("Depth (µm)")
    else:
        weights = kept.amplitudes if weight_histogram_by_amplitude else None
        hist = depth_histogram(kept.depths, weights, bin_um=depth_bin_um)
        _show_histogram(hist_ax, hist, info.amplitude_unit)
        raster.tick_params(labelleft=False)

    _titles(fig, raster, ax, _title_text(title, info.name, "Drift map"), selection.caption)
    return fig


def plot_density_summary(
    summary: StreamedSummary,
    *,
    histogram: bool = True,
    title: bool | str | None = None,
    ax: Axes | None = None,
    figure: Figure | None = None,
    density_log: bool = True,
    colorbar: bool = True,
) -> Figure:
    """Draw a density drift map from a streamed whole-session summary.

    Parameters
    ----------
    summary
        Histogram and density image of a session
        (:func:`driftqc.metrics.streaming.summarise_session`).
    histogram
        Add the depth histogram on the left, sharing the depth axis.
    title
        ``True`` for a default title, a string for that title, None/False for none.
    ax, figure
        Where to draw, as for :func:`plot_drift_map`.
    density_log
        Shade the image on a log scale.
    colorbar
        Add a grey-scale key.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError("ax must be a matplotlib Axes or None")
    fig, hist_ax, raster = _axes(ax, figure, histogram)
    image = summary.density
    raster.set_xlim(image.time_edges[0], image.time_edges[-1])
    raster.set_ylim(image.depth_edges[0], image.depth_edges[-1])
    unit = summary.info.amplitude_unit
    if summary.n_kept == 0:
        _no_spikes_note(raster)
    else:
        _show_density(raster, fig, image, density_log, colorbar, unit)
    raster.set_xlabel("Time (s)")
    if hist_ax is None:
        raster.set_ylabel("Depth (µm)")
    else:
        _show_histogram(hist_ax, summary.histogram, unit)
        raster.tick_params(labelleft=False)
    _titles(fig, raster, ax, _title_text(title, summary.info.name, "Drift map"), summary.caption)
    return fig


def plot_depth_histogram(
    selection: Selection,
    *,
    weight_by_amplitude: bool = False,
    ax: Axes | None = None,
    depth_bin_um: float = DEPTH_BIN_UM,
    title: bool | str | None = None,
) -> Figure:
    """Draw the depth histogram of a selection on its own.

    Parameters
    ----------
    selection
        Spikes to count (all kept spikes, not only the decimated ones).
    weight_by_amplitude
        Sum amplitudes per depth bin instead of counting spikes.
    ax
        Axes to draw into; by default a new figure is made.
    depth_bin_um
        Bin height in µm.
    title
        ``True`` for a default title, a string for that title, None/False for none.
    """
    if ax is None:
        fig = new_figure((3.5, 7.5))
        ax = fig.add_subplot()
    else:
        fig = ax.figure  # type: ignore[assignment]
    kept = selection.kept
    weights = kept.amplitudes if weight_by_amplitude else None
    _show_histogram(
        ax, depth_histogram(kept.depths, weights, bin_um=depth_bin_um), kept.info.amplitude_unit
    )
    ax.set_ylim(*_depth_limits(kept.depths))
    text = _title_text(title, kept.info.name, "Depth histogram")
    name = printable(kept.info.name)
    ax.set_title(f"{text}\n{name}" if text else name, fontsize=9)
    return fig


def _axes(
    ax: Axes | None, figure: Figure | None, histogram: bool
) -> tuple[Figure, Axes | None, Axes]:
    if ax is None:
        fig = figure if figure is not None else new_figure(_FIGSIZE)
        if not histogram:
            return fig, None, fig.add_subplot()
        grid = fig.add_gridspec(1, 2, width_ratios=[1, 5])
        hist_ax = fig.add_subplot(grid[0, 0])
        return fig, hist_ax, fig.add_subplot(grid[0, 1], sharey=hist_ax)
    fig = ax.figure  # type: ignore[assignment]
    if not histogram:
        return fig, None, ax  # type: ignore[return-value]
    hist_ax = ax.inset_axes((-0.27, 0.0, 0.2, 1.0), sharey=ax)
    return fig, hist_ax, ax  # type: ignore[return-value]


def _depth_limits(depths: np.ndarray) -> tuple[float, float]:
    extent = value_range(depths)
    if extent is None:
        return 0.0, 1.0
    low, high = extent
    # a small margin; depths measured from the probe tip (all >= 0) do not go below it
    pad = min(max(0.01 * (high - low), 5.0), 20.0)
    if low >= 0.0:
        return max(low - pad, 0.0), high + pad
    return low - pad, high + pad


def _draw_scatter(
    ax: Axes,
    times: np.ndarray,
    depths: np.ndarray,
    bins: np.ndarray,
    n_bins: int,
    point_size: float,
) -> None:
    # one marker-only line per grey bin, lightest first so larger spikes are drawn on top;
    # much cheaper to draw than a scatter with a colour per point
    colours = grey_rgba(n_bins)
    order = np.argsort(bins, kind="stable")
    bounds = np.searchsorted(bins[order], np.arange(n_bins + 1))
    size = float(np.sqrt(point_size))  # marker area in points² -> diameter in points
    for b in range(n_bins):
        index = order[bounds[b] : bounds[b + 1]]
        if len(index) == 0:
            continue
        (line,) = ax.plot(
            times[index],
            depths[index],
            linestyle="none",
            marker="o",
            markersize=size,
            markeredgewidth=0,
            color=colours[b],
            rasterized=True,
            label=f"_amplitude bin {b}",
        )
        line.set_in_layout(False)


def _grey_map() -> LinearSegmentedColormap:
    cmap = LinearSegmentedColormap.from_list(
        "driftqc_grey", [(LIGHTEST_GREY,) * 3, (0.0, 0.0, 0.0)], N=256
    )
    return cmap.with_extremes(bad=(1.0, 1.0, 1.0, 1.0), under=(1.0, 1.0, 1.0, 1.0))


def _no_spikes_note(ax: Axes) -> None:
    ax.text(
        0.5,
        0.5,
        "no spikes left after filtering",
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="0.4",
    )


def _pixel_grid(
    fig: Figure, ax: Axes, depth_lim: tuple[float, float], depth_bin_um: float
) -> tuple[int, int]:
    """Density grid of about one bin per pixel of the axes (and no finer than the bin height)."""
    bbox = ax.get_position()
    width_px = max(int(fig.get_figwidth() * bbox.width * fig.dpi), 50)
    height_px = max(int(fig.get_figheight() * bbox.height * fig.dpi), 50)
    n_depth = int(min(height_px, max(1, (depth_lim[1] - depth_lim[0]) / depth_bin_um)))
    return width_px, n_depth


def _show_density(
    ax: Axes, fig: Figure, image: DensityImage, log: bool, colorbar: bool, unit: str
) -> None:
    values = image.values.copy()
    if image.statistic == "count":
        values[values == 0] = np.nan
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return
    if log:
        positive = finite[finite > 0]
        low = float(positive.min()) if len(positive) else 1.0
        norm: Normalize = LogNorm(vmin=low, vmax=max(float(finite.max()), low * 1.0001))
    else:
        norm = Normalize(vmin=float(finite.min()), vmax=float(finite.max()))
    extent = (
        image.time_edges[0],
        image.time_edges[-1],
        image.depth_edges[0],
        image.depth_edges[-1],
    )
    mappable = ax.imshow(
        values,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=extent,
        cmap=_grey_map(),
        norm=norm,
        rasterized=True,
    )
    if colorbar:
        label = {
            "count": "Spikes per bin",
            "mean_amplitude": f"Mean amplitude ({unit})",
            "max_amplitude": f"Max amplitude ({unit})",
        }[image.statistic]
        bar = fig.colorbar(mappable, ax=ax, label=label, fraction=0.04, pad=0.01)
        # plain numbers ("6", not "6×10⁰") on log and linear keys alike
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        bar.ax.yaxis.set_major_formatter(plain)
        if log:
            bar.ax.yaxis.set_minor_formatter(
                LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4))
            )


def _amplitude_key(fig: Figure, ax: Axes, shading: AmplitudeShading, unit: str) -> None:
    # a listed colour map of n colours over [low, high] is exactly the n equal-width bins;
    # a plain Normalize ticks the key at round numbers (BoundaryNorm would label every edge)
    cmap = ListedColormap(grey_rgba(shading.n_bins))
    high = shading.high if shading.high > shading.low else shading.low + 1
    norm = Normalize(shading.low, high)
    label = {"log2": f"log2 amplitude ({unit})", "log10": f"log10 amplitude ({unit})"}.get(
        shading.scaling if isinstance(shading.scaling, str) else "", f"Amplitude ({unit})"
    )
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=label, fraction=0.04, pad=0.01)


def _show_histogram(ax: Axes, hist: DepthHistogram, unit: str) -> None:
    ax.plot(hist.values, hist.centres, color="k", linewidth=0.8)
    ax.set_xlabel(f"Summed amplitude ({unit})" if hist.weighted else "Spike count")
    ax.set_ylabel("Depth (µm)")
    ax.set_xlim(0, max(float(hist.values.max(initial=0)) * 1.05, 1.0))


def _title_text(title: bool | str | None, name: str, default: str) -> str | None:
    if title is True:
        return printable(f"{default}: {name}")
    if title:
        return printable(title)
    return None


def _titles(
    fig: Figure, raster: Axes, user_ax: Axes | None, text: str | None, caption: str
) -> None:
    """Place the title and the caption.

    On a new figure: the title is the figure's title and the caption the axes' left title.
    On the caller's axes (``ax=``): the caption is the axes' left title as well, and the
    title the axes' own title (``ax.get_title()``, as driftplots), lifted above the caption.
    """
    caption = printable(caption)
    text = printable(text) if text else text
    raster.set_title(caption, loc="left", fontsize=_CAPTION_PT, color="0.25", wrap=True)
    if not text:
        return
    if user_ax is None:
        fig.suptitle(text)
        return
    # the caption wraps at the figure's right edge: lift the title by its (estimated) lines.
    # Titles share one pad, so the lift is a translation of this title's transform alone.
    left_pt = raster.get_position().x0 * fig.get_figwidth() * 72
    width_pt = max(fig.get_figwidth() * 72 - left_pt, 1.0)
    lines = max(1, math.ceil(len(caption) * _CHAR_EM * _CAPTION_PT / width_pt))
    title = raster.set_title(text)
    lift = ScaledTranslation(0.0, (lines * _CAPTION_PT * 1.25 + 2.0) / 72, fig.dpi_scale_trans)
    title.set_transform(title.get_transform() + lift)
