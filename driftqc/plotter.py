"""``DriftPlotter``: the driftplots-compatible front door over reading, selection and views.

It loads one session on construction and draws drift maps on request. Every plot call starts
from the same read-only arrays, so calls never influence each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from driftqc.io import load_sorting
from driftqc.model import Sorting
from driftqc.options import (
    RENDER,
    SELECTION,
    STYLE,
    Decimate,
    MapStyle,
    Scaling,
    SelectionOptions,
)
from driftqc.plotting import plot_drift_map
from driftqc.progress import messages, reporting
from driftqc.selection import Selection, select_spikes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


class DriftPlotter:
    """Load Kilosort sorter output and draw interactive or static drift maps.

    On construction, spike data are loaded from a Kilosort output folder and kept as
    read-only arrays. Plot methods apply the optional filters (noise exclusion or good units
    only, amplitude bounds, decimation) before drawing.

    Parameters
    ----------
    sorter_path
        A Kilosort 1–4 output folder (its ``kilosort*.log`` tells the version; a folder
        without one is read as a phy export whose depth frame is unknown), a SpikeInterface
        analyzer, or an already loaded :class:`driftqc.model.Sorting`.
    version
        Kilosort version to assume instead of reading it from the log, e.g. ``"kilosort4"``.
    verbose
        Print what is loaded (as driftplots 0.2 does with ``verbose=True``), and report the
        progress of long reads on stderr. driftqc is quiet by default; progress is shown
        anyway when stderr is a terminal and a read takes more than a second.

    Attributes
    ----------
    spike_times
        (n_spikes,) spike times in seconds, for every Kilosort version.
    spike_amplitudes
        (n_spikes,) spike amplitudes (unit in ``sorting.info.amplitude_unit``).
    spike_depths
        (n_spikes,) spike depths along the probe in µm.
    spike_templates
        (n_spikes,) template id of each spike.
    templates
        (n_templates, n_samples, n_channels) template waveforms as saved by the sorter.
    channel_locations
        (n_channels, 2) x/y positions of the channels in µm.

    Examples
    --------
    >>> plotter = DriftPlotter("sub-01/ses-01/kilosort4")  # doctest: +SKIP
    >>> fig = plotter.drift_map_plot_matplotlib(exclude_noise=True, add_histogram_plot=True)
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        sorter_path: str | Path | Sorting,
        *,
        version: str | None = None,
        verbose: bool = False,
    ) -> None:
        say = messages(verbose)
        say(f"Loading data from {sorter_path}...")
        with reporting(True if verbose else None):
            self._sorting = load_sorting(sorter_path, version=version)
        info = self._sorting.info
        say(
            f"Loaded {len(self._sorting.spikes):,} spikes ({info.name}, {info.sorter}; "
            f"amplitudes in {info.amplitude_unit}, {info.depth_frame} depths)."
        )
        if not info.drift_measurable:
            say(f"Drift is not measurable from these depths: {info.depth_estimator}.")

    def __repr__(self) -> str:
        info = self._sorting.info
        return f"DriftPlotter({info.name!r}, {len(self._sorting.spikes):,} spikes, {info.sorter})"

    @property
    def sorting(self) -> Sorting:
        """The loaded session: spikes, templates, geometry, labels, provenance."""
        return self._sorting

    @property
    def spike_times(self) -> np.ndarray:
        """(n_spikes,) spike times in seconds."""
        return self._sorting.spikes.times

    @property
    def spike_amplitudes(self) -> np.ndarray:
        """(n_spikes,) spike amplitudes."""
        return self._sorting.spikes.amplitudes

    @property
    def spike_depths(self) -> np.ndarray:
        """(n_spikes,) spike depths in µm."""
        return self._sorting.spikes.depths

    @property
    def spike_templates(self) -> np.ndarray:
        """(n_spikes,) template id of each spike."""
        return self._sorting.spikes.templates

    @property
    def templates(self) -> np.ndarray:
        """(n_templates, n_samples, n_channels) template waveforms."""
        return self._sorting.templates

    @property
    def channel_locations(self) -> np.ndarray:
        """(n_channels, 2) channel x/y positions in µm."""
        return self._sorting.channel_positions

    def select(
        self,
        decimate: Decimate = SELECTION.decimate,
        exclude_noise: bool | str = SELECTION.exclude_noise,
        filter_amplitude_mode: str | None = SELECTION.filter_amplitude_mode,
        filter_amplitude_values: Sequence[float] = SELECTION.filter_amplitude_values,
        *,
        good_units_only: bool | str = SELECTION.good_units_only,
        estimate_rule: str = SELECTION.estimate_rule,
        frame: str = SELECTION.frame,
        verbose: bool = False,
    ) -> Selection:
        """Apply the filters of the plot methods and return the chosen spikes.

        Parameters are those of :meth:`drift_map_plot_matplotlib`; they are checked once,
        as a :class:`driftqc.options.SelectionOptions`. ``verbose`` prints the spike
        counts after each filter and the caption.
        """
        options = SelectionOptions(
            decimate=decimate,
            exclude_noise=exclude_noise,
            filter_amplitude_mode=filter_amplitude_mode,
            filter_amplitude_values=filter_amplitude_values,  # type: ignore[arg-type]
            good_units_only=good_units_only,
            estimate_rule=estimate_rule,
            frame=frame,
        )
        return self._select(options, verbose)

    def _select(self, options: SelectionOptions, verbose: bool) -> Selection:
        selection = select_spikes(self._sorting, options=options)
        if verbose:
            say = messages(True)
            for line in selection.report():
                say(line)
            say(f"Caption: {selection.caption}")
        return selection

    def drift_map_plot_matplotlib(
        self,
        decimate: Decimate = SELECTION.decimate,
        exclude_noise: bool | str = SELECTION.exclude_noise,
        amplitude_cmap_scaling: Scaling = STYLE.amplitude_cmap_scaling,
        n_color_bins: int = STYLE.n_color_bins,
        point_size: float = STYLE.point_size,
        filter_amplitude_mode: str | None = SELECTION.filter_amplitude_mode,
        filter_amplitude_values: tuple[float, ...] = SELECTION.filter_amplitude_values,
        add_histogram_plot: bool = False,
        weight_histogram_by_amplitude: bool = False,
        title: bool | str | None = None,
        *,
        ax: Axes | None = None,
        render: str = RENDER.render,
        density_statistic: str = RENDER.density_statistic,
        colorbar: bool = True,
        good_units_only: bool | str = SELECTION.good_units_only,
        estimate_rule: str = SELECTION.estimate_rule,
        frame: str = SELECTION.frame,
        verbose: bool = False,
    ) -> Figure:
        """Draw a static drift map with matplotlib.

        Parameters
        ----------
        decimate
            ``"estimate"`` keeps every ``n // 100_000``-th of the n filtered spikes, as
            driftplots (fewer than 200 000 are not thinned; see ``estimate_rule``); an
            integer n keeps every n-th spike; ``False``, ``None`` or ``0`` keeps all.
        exclude_noise
            Remove spikes of clusters labelled noise (``True``), or name the label source to
            use (``"group"`` for Phy's ``cluster_group.tsv``, ``"KSLabel"``).
        amplitude_cmap_scaling
            ``"linear"``, ``"log2"``, ``"log10"`` or an explicit ``(min, max)`` range.
        n_color_bins
            Number of grey levels for amplitude.
        point_size
            Marker area in points².
        filter_amplitude_mode
            ``"percentile"``, ``"absolute"`` or None.
        filter_amplitude_values
            ``(low, high)`` bounds for the amplitude filter, inclusive.
        add_histogram_plot
            Add a depth histogram on the left, from all spikes that passed the filters.
        weight_histogram_by_amplitude
            Sum amplitudes per depth bin instead of counting spikes.
        title
            ``True`` for a default title, a string for that title: the figure's title, or
            the title of ``ax`` (``ax.get_title()``) when ``ax`` is given.
        ax
            Existing axes to draw the drift map into.
        render
            ``"scatter"`` or ``"density"`` (every kept spike binned into an image).
        density_statistic
            ``"count"``, ``"mean_amplitude"`` or ``"max_amplitude"`` for ``render="density"``.
        colorbar
            Add a grey-scale key.
        good_units_only
            driftplots 0.2's label filter: keep only spikes of clusters labelled good
            (``True``), or name the label source as for ``exclude_noise``. Both may be
            given: both apply.
        estimate_rule
            ``"floor"`` (driftplots' rounding) or ``"at_most"`` (never more than 100 000
            points) for ``decimate="estimate"``.
        frame
            Depth frame to draw: ``"saved"`` (default: the depths as the folder holds them,
            as driftplots draws), ``"raw"`` (probe frame: for Kilosort 4 reconstructed from
            its saved motion estimate) or ``"registered"``; see :mod:`driftqc.frames`
            (``available_frames`` lists what a session can show).
        verbose
            Print the spike counts after each filter and the caption (driftplots 0.2's
            ``verbose``).

        Returns
        -------
        matplotlib.figure.Figure
            The figure; it is neither shown nor closed.
        """
        style = MapStyle(amplitude_cmap_scaling, n_color_bins, point_size)  # checked once
        selection = self.select(
            decimate,
            exclude_noise,
            filter_amplitude_mode,
            filter_amplitude_values,
            good_units_only=good_units_only,
            estimate_rule=estimate_rule,
            frame=frame,
            verbose=verbose,
        )
        figure = None
        if ax is None:
            import matplotlib.pyplot as plt

            from driftqc.plotting.figure import DriftqcFigure

            figure = plt.figure(figsize=(10, 7.5), layout="constrained", FigureClass=DriftqcFigure)
        return plot_drift_map(
            selection,
            style=style,
            histogram=add_histogram_plot,
            weight_histogram_by_amplitude=weight_histogram_by_amplitude,
            title=title,
            ax=ax,
            figure=figure,
            render=render,  # type: ignore[arg-type]
            density_statistic=density_statistic,  # type: ignore[arg-type]
            colorbar=colorbar,
        )

    def drift_map_plot_interactive(
        self,
        decimate: Decimate = SELECTION.decimate,
        exclude_noise: bool | str = SELECTION.exclude_noise,
        amplitude_cmap_scaling: Scaling = STYLE.amplitude_cmap_scaling,
        n_color_bins: int = STYLE.n_color_bins,
        point_size: float = STYLE.point_size,
        filter_amplitude_mode: str | None = SELECTION.filter_amplitude_mode,
        filter_amplitude_values: tuple[float, ...] = SELECTION.filter_amplitude_values,
        title: bool | str | None = None,
        *,
        good_units_only: bool | str = SELECTION.good_units_only,
        estimate_rule: str = SELECTION.estimate_rule,
        frame: str = SELECTION.frame,
        verbose: bool = False,
    ) -> Any:
        """Build an interactive pyqtgraph drift-map widget (needs the ``gui`` extra).

        Parameters are those of :meth:`drift_map_plot_matplotlib`, except that
        ``point_size`` is the marker diameter in screen pixels.

        Returns
        -------
        driftqc.interactive.DriftmapPlotWidget
            The populated widget, not yet shown: call its ``plot()`` to show it and run the
            event loop. A ``QApplication`` is created if none exists.
        """
        style = MapStyle(amplitude_cmap_scaling, n_color_bins, point_size)
        options = SelectionOptions(
            decimate=decimate,
            exclude_noise=exclude_noise,
            filter_amplitude_mode=filter_amplitude_mode,
            filter_amplitude_values=filter_amplitude_values,  # type: ignore[arg-type]
            good_units_only=good_units_only,
            estimate_rule=estimate_rule,
            frame=frame,
        )
        selection = self._select(options, verbose)
        from driftqc.interactive import DriftmapPlotWidget
        from driftqc.interactive.sources import sorting_source

        return DriftmapPlotWidget(
            selection,
            templates=self._sorting.templates,
            channel_positions=self._sorting.channel_positions,
            channel_shanks=self._sorting.channel_shanks,
            title=title,
            style=style,
            source=sorting_source(self._sorting, options),
        )
