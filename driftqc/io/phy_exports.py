"""What a phy folder written by something other than Kilosort can show.

A phy folder holds the same files whoever wrote it, but not the same numbers:

* **PC features.** Kilosort 1–4 project the (spatially whitened) data on a few temporal
  principal components shared by every channel, without centring them, so on each of a spike's
  channels the features' size follows the spike's amplitude there: their centre of mass along
  the probe is a per-spike depth. SpikeInterface's ``export_to_phy`` computes its own PCA
  instead, by default fitted and *whitened per channel* (``principal_components`` with
  ``mode="by_channel_local", whiten=True``): every channel's features are centred and scaled on
  their own, so the amplitude across channels is gone and no weighting of them recovers a
  spike's position. Its other settings (unwhitened, one PCA for all channels) are centred on the
  mean waveform and have no fixed sign, and do not follow a spike either.
* **Amplitudes.** Kilosort's ``amplitudes.npy`` scales the spike's template (positive);
  SpikeInterface's is the spike's own signed amplitude on its unit's extremum channel, mostly
  negative.

:func:`check_pc_features` tells per-channel whitened features from Kilosort's on a bounded
sample of spikes: for every (channel, PC) it takes the mean squared feature of each unit's
spikes on that channel and averages over units (as SpikeInterface fits its PCA on up to 500
spikes of every unit). Whitening makes every such moment 1, so they spread by only a few
hundredths of a decade (0.04–0.08 in SpikeInterface 0.105 exports) and the first PC holds
``1 / n_pcs`` of the energy; in Kilosort's features channels with and without signal differ by
orders of magnitude and the first PC holds most of the energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from driftqc.io.npy import NpyFile, as_ids, map_rows

#: files that only SpikeInterface's ``export_to_phy`` writes
SPIKEINTERFACE_MARKERS = ("channel_map_si.npy", "cluster_si_unit_ids.tsv")
#: spikes (at most) whose PC features are sampled for :func:`check_pc_features`
SAMPLE_SPIKES = 20_000
#: bytes of ``pc_features.npy`` (at most) read for that sample
SAMPLE_BYTES = 32 * 2**20
#: contiguous windows the sample is spread over (sequential reads, the whole session covered)
SAMPLE_WINDOWS = 16
#: sampled spikes a unit needs before its channels count
MIN_UNIT_SPIKES = 5
#: (channel, PC) moments needed for a verdict
MIN_CELLS = 8
#: largest spread (SD of log10 of the per-channel, per-PC moments) of whitened features
MAX_WHITENED_SPREAD = 0.25
#: the first PC's share of the energy, relative to an equal share, below which PCs are equal
MAX_WHITENED_PC1_RATIO = 1.5
#: amplitudes sampled to tell signed spike amplitudes from template scalings
SAMPLE_AMPLITUDES = 65_536

HOW_TO_MEASURE = (
    "drift is not measurable from this folder: each spike is placed at its unit's depth. "
    "For per-spike depths, point driftqc at the SpikeInterface analyzer folder instead, after "
    "analyzer.compute('spike_locations') (driftqc reads its spike_locations), or sort with "
    "Kilosort and read its own output folder (Kilosort's PC features carry depth)"
)


@dataclass(frozen=True)
class FeatureCheck:
    """The evidence on whether a folder's PC features are whitened per channel.

    Attributes
    ----------
    per_channel_whitened
        True when every channel's PCs have the same spread (whitened per channel).
    spread_decades
        Standard deviation of log10 of the unit-averaged mean squared feature of every
        (channel, PC) in the sample; NaN when there were too few.
    pc1_share
        Share of the first PC in the summed moments (``1 / n_pcs`` for equal PCs); NaN when
        unknown.
    n_pcs
        PCs per channel in the file.
    n_spikes
        Spikes sampled.
    n_cells
        (channel, PC) moments the verdict rests on.
    """

    per_channel_whitened: bool
    spread_decades: float
    pc1_share: float
    n_pcs: int
    n_spikes: int
    n_cells: int

    @property
    def conclusive(self) -> bool:
        """Whether the sample held enough (channel, PC) moments for a verdict."""
        return self.n_cells >= MIN_CELLS

    def describe(self) -> str:
        """Return the evidence in words, for provenance such as ``depth_estimator``."""
        if not self.conclusive:
            return f"too few spikes per unit in {self.n_spikes} sampled to tell"
        return (
            f"every channel's {self.n_pcs} PCs have the same spread (SD "
            f"{self.spread_decades:.2f} decades over {self.n_cells} channel-PC pairs) and the "
            f"first PC holds {100 * self.pc1_share:.0f}% of the energy "
            f"({100 / max(self.n_pcs, 1):.0f}% if all PCs were equal)"
        )


def is_spikeinterface_export(folder: Path) -> bool:
    """Whether a phy folder was written by SpikeInterface's ``export_to_phy``.

    Notes
    -----
    SpikeInterface writes ``channel_map_si.npy`` (its channel ids) and
    ``cluster_si_unit_ids.tsv`` (its unit ids) beside the phy files; Kilosort writes neither.
    """
    return any((Path(folder) / name).is_file() for name in SPIKEINTERFACE_MARKERS)


def check_pc_features(
    features: NpyFile,
    channel_index: np.ndarray,
    spike_templates: NpyFile,
    *,
    max_spikes: int = SAMPLE_SPIKES,
    max_bytes: int = SAMPLE_BYTES,
) -> FeatureCheck:
    """Test, on a bounded sample of spikes, whether PC features are whitened per channel.

    Parameters
    ----------
    features
        Header of ``pc_features.npy``, (n_spikes, n_pcs, n_local), C order.
    channel_index
        ``pc_feature_ind.npy``, (n_templates, n_local); -1 marks a padding slot.
    spike_templates
        Header of ``spike_templates.npy``, one template index per spike.
    max_spikes, max_bytes
        Bounds on the sample: at most this many spikes and this many bytes of features,
        read in :data:`SAMPLE_WINDOWS` contiguous windows spread over the session.

    Returns
    -------
    FeatureCheck
        The verdict and the statistics it rests on.

    Notes
    -----
    For each (channel, PC) the mean squared feature of each unit's sampled spikes is
    averaged over units with at least :data:`MIN_UNIT_SPIKES` of them. The features are
    whitened per channel when those moments spread by less than
    :data:`MAX_WHITENED_SPREAD` decades and, with several PCs, the first PC holds less than
    :data:`MAX_WHITENED_PC1_RATIO` times an equal share of their sum. Padding slots,
    non-finite features and zero moments are left out. With fewer than :data:`MIN_CELLS`
    moments the check is inconclusive and says "not whitened", so small folders keep
    their per-spike depths.

    Examples
    --------
    >>> pcs, ids = open_npy(pc_path), open_npy(templates_path)  # doctest: +SKIP
    >>> check = check_pc_features(pcs, pc_ind, ids)  # doctest: +SKIP
    >>> check.per_channel_whitened, check.describe()  # doctest: +SKIP
    """
    n_spikes, n_pcs, n_local = (features.shape + (1, 1, 1))[:3]
    sums = np.zeros((len(channel_index), n_pcs, n_local))
    counts = np.zeros(len(channel_index))
    n_sampled = 0
    for start, stop in _sample_windows(n_spikes, features.row_bytes, max_spikes, max_bytes):
        templates = as_ids(map_rows(spike_templates, start, stop), spike_templates.path)
        block = np.asarray(map_rows(features, start, stop), dtype=np.float64)
        finite = np.isfinite(block).all(axis=(1, 2)) & (templates < len(channel_index))
        block, templates = block[finite], templates[finite]
        np.add.at(sums, templates, block * block)
        counts += np.bincount(templates, minlength=len(channel_index))
        n_sampled += int(finite.sum())
    return _verdict(sums, counts, channel_index, n_pcs, n_sampled)


def signed_fraction(amplitudes: NpyFile, max_values: int = SAMPLE_AMPLITUDES) -> float:
    """Fraction of negative values among a bounded, evenly spread sample of non-zero values.

    Kilosort's template scalings are never negative; SpikeInterface's signed spike
    amplitudes mostly are (negative peaks). NaN for a file without non-zero values.
    """
    windows = _sample_windows(amplitudes.n_rows, amplitudes.row_bytes, max_values, 2**20)
    values = [np.asarray(map_rows(amplitudes, a, b)).reshape(-1) for a, b in windows]
    sample = np.concatenate(values) if values else np.empty(0)
    sample = sample[np.isfinite(sample) & (sample != 0)]
    return float(np.mean(sample < 0)) if len(sample) else float("nan")


def _sample_windows(
    n_rows: int, row_bytes: int, max_rows: int, max_bytes: int
) -> list[tuple[int, int]]:
    """Row ranges of a bounded sample: :data:`SAMPLE_WINDOWS` windows spread evenly."""
    budget = max(1, min(max_rows, max_bytes // max(row_bytes, 1), n_rows))
    if budget >= n_rows:
        return [(0, n_rows)] if n_rows else []
    per_window = max(1, budget // SAMPLE_WINDOWS)
    starts = np.linspace(0, n_rows - per_window, SAMPLE_WINDOWS).astype(np.int64)
    return [(int(s), int(s) + per_window) for s in np.unique(starts)]


def _verdict(
    sums: np.ndarray, counts: np.ndarray, channel_index: np.ndarray, n_pcs: int, n_sampled: int
) -> FeatureCheck:
    units = np.flatnonzero(counts >= MIN_UNIT_SPIKES)
    per_unit = sums[units] / counts[units, None, None]  # (units, n_pcs, n_local)
    channels = channel_index[units].astype(np.int64)  # (units, n_local)
    valid = channels >= 0
    # average each (channel, PC) moment over the units that have that channel
    n_channels = int(channels.max(initial=-1)) + 1
    total = np.zeros((n_channels, n_pcs))
    seen = np.zeros(n_channels)
    slot_unit, slot = np.nonzero(valid)
    np.add.at(total, channels[slot_unit, slot], per_unit[slot_unit, :, slot])
    np.add.at(seen, channels[slot_unit, slot], 1)
    moments = total[seen > 0] / seen[seen > 0, None]  # (channels, n_pcs)
    positive = moments[moments > 0]
    if positive.size < MIN_CELLS:
        return FeatureCheck(False, float("nan"), float("nan"), n_pcs, n_sampled, positive.size)
    spread = float(np.std(np.log10(positive)))
    share = float(moments[:, 0].sum() / moments.sum())
    flat_pcs = n_pcs == 1 or share < MAX_WHITENED_PC1_RATIO / n_pcs
    whitened = spread < MAX_WHITENED_SPREAD and flat_pcs
    return FeatureCheck(whitened, spread, share, n_pcs, n_sampled, positive.size)
