"""Matplotlib drift maps and the seed API's static half."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

import driftqc
from driftqc import DriftPlotter, get_amplitudes, plot_drift_map, read_kilosort, select_spikes
from driftqc.views.shading import amplitude_shading, grey_rgba
from tests.helpers.seed_api import our_signature, seed_signature

matplotlib.use("Agg")


@pytest.mark.parametrize(
    ("ours", "seed"),
    [
        (DriftPlotter.drift_map_plot_matplotlib, "drift_map_plot_matplotlib"),
        (DriftPlotter.drift_map_plot_interactive, "drift_map_plot_interactive"),
        (get_amplitudes, "get_amplitudes"),
    ],
)
def test_signatures_match_the_seed_api(ours, seed):
    assert our_signature(ours) == seed_signature(seed)


def test_seed_names_are_exported():
    for name in ("DriftPlotter", "get_amplitudes", "MultiSessionDriftmapWidget"):
        assert name in driftqc.__all__


def test_attributes(ks25_session):
    plotter = DriftPlotter(ks25_session.path)
    sorting = read_kilosort(ks25_session.path)
    np.testing.assert_array_equal(plotter.spike_times, sorting.spikes.times)
    np.testing.assert_array_equal(plotter.spike_depths, sorting.spikes.depths)
    np.testing.assert_array_equal(plotter.spike_amplitudes, sorting.spikes.amplitudes)
    np.testing.assert_array_equal(plotter.spike_templates, sorting.spikes.templates)
    assert plotter.templates.shape[0] == len(ks25_session.unit_depths)
    assert plotter.channel_locations.shape == (96, 2)
    assert plotter.spike_times.max() <= ks25_session.duration  # seconds, not samples
    with pytest.raises(AttributeError):
        plotter.spike_times = None


def scatter_points(ax) -> tuple[np.ndarray, np.ndarray]:
    """Positions and RGBA colours of every spike marker drawn on ``ax``."""
    lines = [line for line in ax.lines if line.get_marker() == "o"]
    assert lines
    offsets = np.concatenate([line.get_xydata() for line in lines])
    colours = np.concatenate(
        [
            np.tile(matplotlib.colors.to_rgba(line.get_color()), (len(line.get_xdata()), 1))
            for line in lines
        ]
    )
    return offsets, colours


def test_scatter_draws_the_shown_spikes_in_their_grey(ks25_session):
    plotter = DriftPlotter(ks25_session.path)
    fig = plotter.drift_map_plot_matplotlib(
        decimate=4, exclude_noise=True, amplitude_cmap_scaling="log2", n_color_bins=8
    )
    sel = select_spikes(plotter.sorting, exclude_noise=True, decimate=4)
    raster = fig.axes[0]
    offsets, colours = scatter_points(raster)
    order = np.lexsort((sel.shown.depths, sel.shown.times))
    drawn = np.lexsort((offsets[:, 1], offsets[:, 0]))
    np.testing.assert_allclose(offsets[drawn, 0], sel.shown.times[order])
    np.testing.assert_allclose(offsets[drawn, 1], sel.shown.depths[order], rtol=1e-6)
    shading = amplitude_shading(sel.kept.amplitudes, "log2", 8)
    expected = grey_rgba(8)[shading.bin_of(sel.shown.amplitudes)]
    np.testing.assert_allclose(colours[drawn], expected[order])
    assert raster.get_xlabel() == "Time (s)" and raster.get_ylabel() == "Depth (µm)"
    assert f"{len(sel.shown):,} of {ks25_session.n_spikes:,} spikes" in raster.get_title("left")
    assert isinstance(fig, Figure)
    matplotlib.pyplot.close(fig)


def test_histogram_counts_every_kept_spike(ks25_session):
    plotter = DriftPlotter(ks25_session.path)
    fig = plotter.drift_map_plot_matplotlib(add_histogram_plot=True, decimate=10)
    hist_ax = fig.axes[0]
    counts = hist_ax.lines[0].get_xdata()
    assert counts.sum() == ks25_session.n_spikes  # not the decimated number
    assert hist_ax.get_xlabel() == "Spike count"
    assert hist_ax.get_shared_y_axes().joined(hist_ax, fig.axes[1])
    weighted = plotter.drift_map_plot_matplotlib(
        add_histogram_plot=True, weight_histogram_by_amplitude=True
    )
    sums = weighted.axes[0].lines[0].get_xdata()
    np.testing.assert_allclose(sums.sum(), plotter.spike_amplitudes.astype(float).sum(), rtol=1e-5)
    assert "Summed amplitude" in weighted.axes[0].get_xlabel()
    matplotlib.pyplot.close("all")


def test_titles(ks25_session):
    plotter = DriftPlotter(ks25_session.path)
    fig = plotter.drift_map_plot_matplotlib(title="My session")
    assert fig._suptitle.get_text() == "My session"
    fig = plotter.drift_map_plot_matplotlib(title=True)
    assert plotter.sorting.info.name in fig._suptitle.get_text()
    fig = plotter.drift_map_plot_matplotlib()
    assert fig._suptitle is None
    matplotlib.pyplot.close("all")


def test_draws_into_given_axes(ks25_session, ks4_session):
    fig = Figure()
    axes = fig.subplots(1, 2, sharey=True)
    for ax, truth in zip(axes, (ks25_session, ks4_session), strict=True):
        out = DriftPlotter(truth.path).drift_map_plot_matplotlib(
            ax=ax, title="S", add_histogram_plot=True, amplitude_cmap_scaling=(5, 50)
        )
        assert out is fig
        assert ax.get_title() == "S"  # the axes title, as driftplots sets it
        assert truth.path.name in ax.get_title("left")  # the caption stays beside it
    with pytest.raises(TypeError, match="Axes"):
        DriftPlotter(ks25_session.path).drift_map_plot_matplotlib(ax="not axes")


def test_density_render_bins_all_kept_spikes(ks25_session):
    sel = select_spikes(read_kilosort(ks25_session.path), decimate="estimate")
    fig = plot_drift_map(sel, render="density", density_log=False)
    images = [im for im in fig.axes[0].get_images() if isinstance(im, AxesImage)]
    assert len(images) == 1
    assert np.nansum(images[0].get_array().filled(np.nan)) == len(sel.kept)
    assert fig.axes[0].get_ylim()[0] < fig.axes[0].get_ylim()[1]  # depth grows upward


def test_empty_selection_is_drawn_with_a_note(ks25_session):
    with pytest.warns(UserWarning, match="no spikes left"):
        sel = select_spikes(
            read_kilosort(ks25_session.path),
            filter_amplitude_mode="absolute",
            filter_amplitude_values=(-2, -1),
        )
    fig = plot_drift_map(sel, histogram=True)
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert "no spikes left after filtering" in texts


def test_get_amplitudes(ks25_session, ks4_session):
    paths = [ks25_session.path, ks4_session.path]
    per_session = get_amplitudes(paths)
    assert [len(a) for a in per_session] == [ks25_session.n_spikes, ks4_session.n_spikes]
    np.testing.assert_allclose(per_session[0], DriftPlotter(paths[0]).spike_amplitudes)
    pooled = get_amplitudes(paths, exclude_noise=True, concatenate=True)
    kept = [len(select_spikes(read_kilosort(p), exclude_noise=True).kept) for p in paths]
    assert pooled.ndim == 1 and len(pooled) == sum(kept)


def _zlib_level_flag(png: bytes) -> int:
    """FLEVEL (0 fastest .. 3 smallest) from the zlib header of a PNG's first IDAT chunk."""
    at = png.index(b"IDAT") + 4
    return png[at + 1] >> 6


def _png_bytes(fig: Figure, **kwargs) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **kwargs)
    return buffer.getvalue()


def test_pngs_are_written_with_fast_compression(ks25_session, tmp_path):
    plotter = DriftPlotter(ks25_session.path)
    fig = plotter.drift_map_plot_matplotlib(add_histogram_plot=True, decimate=10)
    plain = Figure()
    plain.add_subplot().plot([0, 1], [0, 1])
    fastest = _zlib_level_flag(_png_bytes(plain, pil_kwargs={"compress_level": 1}))
    assert _zlib_level_flag(_png_bytes(plain)) != fastest  # matplotlib's own default differs
    assert _zlib_level_flag(_png_bytes(fig)) == fastest
    fig.savefig(tmp_path / "map.png")  # format from the file name
    assert _zlib_level_flag((tmp_path / "map.png").read_bytes()) == fastest
    smallest = _zlib_level_flag(_png_bytes(plain, pil_kwargs={"compress_level": 9}))
    assert _zlib_level_flag(_png_bytes(fig, pil_kwargs={"compress_level": 9})) == smallest
    fig.savefig(tmp_path / "map.pdf")  # other formats take no Pillow options
    assert (tmp_path / "map.pdf").read_bytes().startswith(b"%PDF")
    matplotlib.pyplot.close("all")


def test_a_checked_style_draws_like_its_keywords(ks25_session):
    from driftqc.options import MapStyle

    sel = select_spikes(read_kilosort(ks25_session.path), decimate=5)
    by_keywords = plot_drift_map(sel, scaling="log10", n_color_bins=6, point_size=3.0)
    by_style = plot_drift_map(sel, style=MapStyle("log10", 6, 3.0))
    for drawn, expected in zip(
        scatter_points(by_style.axes[0]), scatter_points(by_keywords.axes[0]), strict=True
    ):
        np.testing.assert_array_equal(drawn, expected)
    with pytest.raises(TypeError, match="either style"):
        plot_drift_map(sel, n_color_bins=6, style=MapStyle())
