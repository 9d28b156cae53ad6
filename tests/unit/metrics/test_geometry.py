"""Probe geometry (driftqc.geometry): one definition of peak channels, depths and shanks."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.errors import SortingFormatError
from driftqc.geometry import (
    channel_shanks,
    peak_to_trough,
    shanks_from_positions,
    spike_shanks,
    split_by_shank,
    template_depths,
    template_peak_channels,
    template_shanks,
)
from driftqc.model import SessionInfo, SpikeTable
from driftqc.qc import shank_keys, shank_tables

INFO = SessionInfo("geo", None, "test", 30000.0, "µV", "t", "t", "raw")


def _templates() -> np.ndarray:
    """Three templates on a 6-channel, two-shank probe; template 2 is flat zero."""
    templates = np.zeros((3, 4, 6), dtype=np.float32)
    templates[0, :, 1] = [0, -3, 1, 0]  # ptp 4 on channel 1 (shank 0)
    templates[0, :, 2] = [0, -1, 0, 0]  # ptp 1 on channel 2
    templates[1, :, 4] = [0, -2, 2, 0]  # ptp 4 on channel 4 (shank 1)
    return templates


def _spikes(templates: list[int]) -> SpikeTable:
    n = len(templates)
    ids = np.array(templates, dtype=np.int32)
    return SpikeTable(
        times=np.arange(n, dtype=np.float64),
        amplitudes=np.ones(n, dtype=np.float32),
        depths=np.zeros(n, dtype=np.float32),
        templates=ids,
        clusters=ids,
        info=INFO,
    )


def test_peak_channels_and_peak_to_trough():
    templates = _templates()
    ptp = peak_to_trough(templates)
    assert ptp.shape == (3, 6)
    assert ptp[0].tolist() == [0, 4, 1, 0, 0, 0]
    assert template_peak_channels(templates).tolist() == [1, 4, 0]  # flat → channel 0
    assert peak_to_trough(np.zeros((2, 0, 5))).shape == (2, 5)  # no samples: zeros
    with pytest.raises(SortingFormatError, match="n_templates, n_samples, n_channels"):
        template_peak_channels(np.zeros((4, 6)))


def test_template_depths_ignore_weak_channels_and_flat_is_nan():
    ptp = np.array([[0.0, 4.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    y = np.array([0.0, 20.0, 40.0, 60.0])
    depths = template_depths(ptp, y)
    # channel 2 (1 < 30 % of 4) is left out: (4 * 20 + 2 * 60) / 6
    assert depths[0] == pytest.approx(200.0 / 6.0)
    assert np.isnan(depths[1])


def test_channel_shanks_from_labels_else_x_gaps():
    positions = np.array([[0, 0], [32, 0], [250, 0], [282, 0], [500, 15], [532, 15.0]])
    assert shanks_from_positions(positions).tolist() == [0, 0, 1, 1, 2, 2]
    np1 = np.array([[43, 0], [11, 0], [59, 20], [27, 20.0]])
    assert shanks_from_positions(np1).tolist() == [0, 0, 0, 0]  # single shank
    assert channel_shanks(positions).tolist() == [0, 0, 1, 1, 2, 2]
    labels = np.array(["b", "b", "a", "a", "a", "a"])
    assert channel_shanks(positions, labels).tolist() == [1, 1, 0, 0, 0, 0]
    # one label for every channel says nothing: the x gaps decide
    assert channel_shanks(positions, np.full(6, 7)).tolist() == [0, 0, 1, 1, 2, 2]
    assert channel_shanks(positions, labels).dtype == np.int32
    with pytest.raises(SortingFormatError, match="5 channel shank labels for 6 channels"):
        channel_shanks(positions, labels[:5])


def test_template_and_spike_shanks():
    templates = _templates()
    probe = np.array([0, 0, 0, 1, 1, 1])
    shanks = template_shanks(templates, probe)
    assert shanks.tolist() == [0, 1, 0] and shanks.dtype == np.int32
    assert template_shanks(templates, np.zeros(6, int)).tolist() == [0, 0, 0]  # one shank
    assert template_shanks(templates[:0], probe).tolist() == []
    # templates with more channels than the probe: a peak channel could have no shank
    with pytest.raises(SortingFormatError, match="session 'x': templates have 6 channels"):
        template_shanks(templates, probe[:5], session="x")
    assert spike_shanks(np.array([1, 0, 2, 1]), shanks).tolist() == [1, 0, 0, 1]
    assert spike_shanks(np.zeros(0, int), shanks).tolist() == []
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(SortingFormatError, match="outside the 3 templates"):
            spike_shanks(np.array(bad), shanks)


def test_split_by_shank_keys_name_the_shanks():
    shanks = template_shanks(_templates(), np.array([0, 0, 0, 1, 1, 1]))
    spikes = _spikes([1, 0, 2, 1, 0])
    parts = split_by_shank(spikes, shanks)
    assert list(parts) == [0, 1]
    assert parts[0].times.tolist() == [1.0, 2.0, 4.0]
    assert parts[1].times.tolist() == [0.0, 3.0]
    assert list(split_by_shank(_spikes([0, 2]), shanks)) == [0]  # all on one shank
    assert split_by_shank(_spikes([]), shanks) == {}
    with pytest.raises(SortingFormatError, match="session 'geo'"):
        split_by_shank(_spikes([5]), shanks)
    # the QC's keys add the whole probe, and single shanks only on multi-shank data
    tables = shank_tables(spikes, shanks)
    assert list(tables) == ["all", 0, 1]
    assert tables[1].times.tolist() == parts[1].times.tolist()
    assert list(shank_tables(_spikes([0, 2]), shanks)) == ["all"]
    assert shank_keys(spikes.templates, shanks) == ["all", 0, 1]
    assert shank_keys(np.array([0, 2]), shanks) == ["all"]
