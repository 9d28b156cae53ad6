"""Synthetic Kilosort output folders with a known drift, for tests, demos and benchmarks.

:func:`write_kilosort_folder` writes a folder in the layout of Kilosort 1–3 (whitened templates,
inverse whitening matrix, PC features) or Kilosort 4 (spike positions, ``ops.npy`` with a
``dshift`` motion estimate), with a Neuropixels-like probe, units at known depths, Poisson-like
firing, per-spike amplitude scatter, noise units that Phy would label ``noise``, and an imposed
rigid drift of the tissue (none, linear, zig-zag or step). Files are written chunk by chunk, so
a 50-million-spike folder needs no more memory than a small one.

The ground truth (unit depths, the drift function, labels) is returned and saved beside the
data as ``ground_truth.json``; its ``displacement`` gives the imposed drift at any time.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from driftqc.errors import OptionError

DRIFT_PATTERNS = ("none", "linear", "zigzag", "step")
LAYOUTS = ("kilosort", "kilosort2", "kilosort2_5", "kilosort3", "kilosort4")
N_LOCAL = 32  # channels per template in pc_feature_ind.npy, as Kilosort 2/3 save
N_PCS = 3
FOOTPRINT_SIGMA_UM = 30.0  # spatial spread of a unit's signal along the probe
DEPTH_JITTER_UM = 4.0  # per-spike scatter of the true position around the unit's


@dataclass(frozen=True)
class SyntheticSession:
    """Ground truth of a synthetic folder.

    Attributes
    ----------
    path
        The folder written.
    layout
        Kilosort version imitated, e.g. ``"kilosort2_5"``.
    n_spikes, duration, sample_rate
        Size of the session.
    unit_depths
        (n_units,) depth of each unit at the drift's zero, µm.
    unit_amplitudes
        (n_units,) peak-to-trough of each unit's (unwhitened) template on its best channel.
    unit_labels
        Phy label of each unit (``"good"``, ``"mua"`` or ``"noise"``).
    drift, drift_um, drift_period_s
        The imposed drift pattern, its size (peak-to-peak, µm) and period (s).
    frame
        ``"raw"`` when the saved depths carry the drift, ``"registered"`` when they do not.
    """

    path: Path
    layout: str
    n_spikes: int
    duration: float
    sample_rate: float
    unit_depths: np.ndarray
    unit_amplitudes: np.ndarray
    unit_labels: tuple[str, ...]
    drift: str
    drift_um: float
    drift_period_s: float
    frame: str
    extra: dict[str, object] = field(default_factory=dict)

    def displacement(self, times: np.ndarray) -> np.ndarray:
        """Imposed tissue displacement (µm, positive = towards larger y) at ``times`` (s)."""
        return drift_displacement(
            times, self.drift, self.drift_um, self.duration, self.drift_period_s
        )


def drift_displacement(
    times: np.ndarray, pattern: str, size_um: float, duration: float, period_s: float
) -> np.ndarray:
    """Displacement (µm) of the tissue at ``times`` for a named drift pattern.

    ``"none"`` is 0; ``"linear"`` ramps from 0 to ``size_um`` over the session; ``"zigzag"``
    is a triangle wave of peak-to-peak ``size_um`` and period ``period_s``, starting at 0;
    ``"step"`` jumps from 0 to ``size_um`` half-way through.
    """
    times = np.asarray(times, dtype=np.float64)
    if pattern == "none":
        return np.zeros_like(times)
    if pattern == "linear":
        return size_um * np.clip(times / max(duration, 1e-9), 0, 1)
    if pattern == "zigzag":
        phase = np.mod(times / period_s, 1.0)
        return size_um * (1.0 - np.abs(2.0 * phase - 1.0))
    if pattern == "step":
        return np.where(times >= duration / 2, size_um, 0.0)
    raise OptionError(f"drift={pattern!r}: use one of {list(DRIFT_PATTERNS)}")


def probe_geometry(n_channels: int = 384, n_shanks: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Neuropixels-like channel positions (µm) and shank of each channel.

    One shank: the Neuropixels 1.0 staggered layout (two channels per 20-µm row, x in
    {43, 11, 59, 27}). Several shanks: Neuropixels 2.0-like, two columns 32 µm apart, 15-µm
    rows, shanks 250 µm apart.
    """
    if n_channels < 2 or n_channels % max(n_shanks, 1):
        raise OptionError("n_channels must be at least 2 and divisible by n_shanks")
    channel = np.arange(n_channels)
    if n_shanks == 1:
        x = np.array([43.0, 11.0, 59.0, 27.0])[channel % 4]
        y = 20.0 * (channel // 2)
        return np.column_stack([x, y]), np.zeros(n_channels, dtype=np.int32)
    per_shank = n_channels // n_shanks
    shank = channel // per_shank
    within = channel % per_shank
    x = 250.0 * shank + 32.0 * (within % 2)
    y = 15.0 * (within // 2)
    return np.column_stack([x, y]), shank.astype(np.int32)


def write_kilosort_folder(
    path: Path | str,
    *,
    n_spikes: int = 100_000,
    layout: str = "kilosort2_5",
    n_channels: int = 384,
    n_shanks: int = 1,
    n_units: int = 60,
    duration: float = 600.0,
    drift: str = "zigzag",
    drift_um: float = 30.0,
    drift_period_s: float | None = None,
    frame: str = "raw",
    noise_fraction: float = 0.1,
    curated: bool = True,
    sample_rate: float = 30000.0,
    gain: float | None = None,
    seed: int = 0,
    unit_seed: int | None = None,
    chunk_spikes: int = 500_000,
) -> SyntheticSession:
    """Write a synthetic Kilosort output folder.

    Parameters
    ----------
    path
        Folder to create (or fill).
    n_spikes
        Number of spikes.
    layout
        ``"kilosort"``, ``"kilosort2"``, ``"kilosort2_5"``, ``"kilosort3"`` (PC-feature
        layout) or ``"kilosort4"`` (spike positions and ``ops.npy``).
    n_channels, n_shanks
        Probe size (see :func:`probe_geometry`).
    n_units
        Number of units (templates).
    duration
        Length of the recording in seconds.
    drift, drift_um, drift_period_s
        Imposed rigid drift: pattern, peak-to-peak size in µm, period for the zig-zag
        (default: a quarter of the session).
    frame
        ``"raw"``: saved depths move with the drift; ``"registered"``: they do not, as after a
        sorter's own drift correction (Kilosort 4's ``dshift`` is saved either way).
    noise_fraction
        Fraction of units that are noise: low amplitude, spikes spread over the whole shank.
    curated
        Write Phy's ``cluster_group.tsv`` (with the noise labels) and ``spike_clusters.npy``
        (units 0 and 1 merged into a new cluster), besides ``cluster_KSLabel.tsv``.
    sample_rate
        Sampling rate in Hz.
    gain
        If given, written to ``params.py`` as µV per bit.
    seed
        Seed of the random generator; equal arguments give identical folders.
    unit_seed
        Seed of the units' placement, rates and sizes alone (default: drawn from ``seed``).
        Sessions with the same ``unit_seed`` record the same neurons, as repeated sessions
        of one animal would, so their depth profiles can be compared.
    chunk_spikes
        Spikes generated and written per step (bounds memory).

    Returns
    -------
    SyntheticSession
        The ground truth.

    Examples
    --------
    >>> truth = write_kilosort_folder("demo/ses-01", n_spikes=200_000, drift="step")
    ... # doctest: +SKIP
    """
    if layout not in LAYOUTS:
        raise OptionError(f"layout={layout!r}: use one of {list(LAYOUTS)}")
    if frame not in ("raw", "registered"):
        raise OptionError(f"frame={frame!r}: use 'raw' or 'registered'")
    if n_spikes < 0 or n_units < 1 or duration <= 0:
        raise OptionError("n_spikes must be >= 0, n_units >= 1 and duration > 0")
    period = float(drift_period_s or duration / 4)
    drift_displacement(np.zeros(1), drift, drift_um, duration, period)  # validates the name
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ks4 = layout == "kilosort4"

    positions, shanks = probe_geometry(n_channels, n_shanks)
    unit_rng = rng if unit_seed is None else np.random.default_rng(unit_seed)
    units = _make_units(unit_rng, positions, shanks, n_units, noise_fraction)
    n_samples = 61 if ks4 else 82
    unwhitened = _templates(units, positions, n_samples)
    winv = _whitening_inverse(n_channels)
    saved_templates = unwhitened
    if not ks4:  # Kilosort 1–3 save whitened templates: saved @ winv == unwhitened
        whiten = np.linalg.inv(winv.astype(np.float64)).astype(np.float32)
        saved_templates = (unwhitened.reshape(-1, n_channels) @ whiten).reshape(unwhitened.shape)
    local = _local_channels(units["depth"], units["shank"], positions, shanks)

    writers = {
        "spike_times.npy": _NpyWriter(folder / "spike_times.npy", np.uint64, (n_spikes,)),
        "spike_templates.npy": _NpyWriter(folder / "spike_templates.npy", np.uint32, (n_spikes,)),
        "amplitudes.npy": _NpyWriter(folder / "amplitudes.npy", np.float32, (n_spikes,)),
    }
    if curated:
        writers["spike_clusters.npy"] = _NpyWriter(
            folder / "spike_clusters.npy", np.int32, (n_spikes,)
        )
    if ks4:
        writers["spike_positions.npy"] = _NpyWriter(
            folder / "spike_positions.npy", np.float32, (n_spikes, 2)
        )
    else:
        writers["pc_features.npy"] = _NpyWriter(
            folder / "pc_features.npy", np.float32, (n_spikes, N_PCS, N_LOCAL)
        )

    rates = units["rate"] / units["rate"].sum()
    n_chunks = max(1, -(-n_spikes // chunk_spikes))
    counts = np.full(n_chunks, n_spikes // n_chunks)
    counts[: n_spikes % n_chunks] += 1
    segment = duration / n_chunks
    merged_id = n_units
    for k, count in enumerate(counts):
        times = np.sort(rng.uniform(k * segment, (k + 1) * segment, count))
        unit = rng.choice(n_units, size=count, p=rates).astype(np.uint32)
        shift = drift_displacement(times, drift, drift_um, duration, period)
        noise_unit = units["noise"][unit]
        true_depth = units["depth"][unit] + shift
        true_depth += rng.normal(0.0, DEPTH_JITTER_UM, count)
        shank_top = units["shank_top"][unit]
        spread = rng.uniform(0, shank_top)
        true_depth = np.where(noise_unit, spread, true_depth)
        saved_depth = true_depth if frame == "raw" else true_depth - np.where(noise_unit, 0, shift)
        scale = np.abs(rng.normal(units["scale"][unit], 0.15 * units["scale"][unit]))
        writers["spike_times.npy"].write(np.floor(times * sample_rate).astype(np.uint64))
        writers["spike_templates.npy"].write(unit)
        writers["amplitudes.npy"].write(scale.astype(np.float32))
        if curated:
            clusters = unit.astype(np.int32)
            clusters[unit <= 1] = merged_id
            writers["spike_clusters.npy"].write(clusters)
        if ks4:
            writers["spike_positions.npy"].write(
                np.column_stack([units["x"][unit], saved_depth]).astype(np.float32)
            )
        else:
            writers["pc_features.npy"].write(
                _pc_features(rng, saved_depth, unit, local, positions, scale)
            )
    for writer in writers.values():
        writer.close()

    np.save(folder / "templates.npy", saved_templates)
    np.save(folder / "channel_positions.npy", positions)
    np.save(folder / "channel_map.npy", np.arange(n_channels, dtype=np.int32))
    if n_shanks > 1:
        np.save(folder / "channel_shanks.npy", shanks.astype(np.float64))
    if ks4:
        np.save(folder / "whitening_mat_inv.npy", np.eye(n_channels, dtype=np.float32))
        _write_ops(folder / "ops.npy", drift, drift_um, duration, period, sample_rate, positions)
    else:
        np.save(folder / "whitening_mat_inv.npy", winv)
        np.save(folder / "pc_feature_ind.npy", local.astype(np.uint32))
    labels = tuple(
        "noise" if units["noise"][u] else ("good" if units["scale"][u] > 12 else "mua")
        for u in range(n_units)
    )
    _write_labels(folder, labels, curated, merged_id)
    _write_params(folder / "params.py", n_channels, sample_rate, gain)
    (folder / f"{layout}.log").write_text(f"synthetic {layout} output written by driftqc\n")

    unit_ptp = np.ptp(unwhitened, axis=1).max(axis=1)
    truth = SyntheticSession(
        path=folder,
        layout=layout,
        n_spikes=int(n_spikes),
        duration=float(duration),
        sample_rate=float(sample_rate),
        unit_depths=units["depth"],
        unit_amplitudes=unit_ptp,
        unit_labels=labels,
        drift=drift,
        drift_um=float(drift_um),
        drift_period_s=period,
        frame=frame,
    )
    _write_truth(folder / "ground_truth.json", truth, units)
    return truth


def _make_units(
    rng: np.random.Generator,
    positions: np.ndarray,
    shanks: np.ndarray,
    n_units: int,
    noise_fraction: float,
) -> dict[str, np.ndarray]:
    n_shanks = int(shanks.max()) + 1
    shank = np.arange(n_units) % n_shanks
    top = np.array([positions[shanks == s, 1].max() for s in range(n_shanks)])
    margin = np.minimum(150.0, 0.2 * top)
    depth = rng.uniform(margin[shank], top[shank] - margin[shank])
    x = np.array([positions[shanks == s, 0].mean() for s in range(n_shanks)])[shank]
    noise = np.zeros(n_units, dtype=bool)
    n_noise = int(round(noise_fraction * n_units))
    if n_noise:
        noise[rng.choice(n_units, n_noise, replace=False)] = True
    scale = rng.lognormal(np.log(15.0), 0.45, n_units)
    scale[noise] = rng.uniform(4.0, 7.0, n_noise)
    rate = rng.lognormal(np.log(5.0), 0.8, n_units)
    return {
        "depth": depth,
        "shank": shank,
        "shank_top": top[shank],
        "x": x,
        "noise": noise,
        "scale": scale,
        "rate": rate,
    }


def _templates(units: dict[str, np.ndarray], positions: np.ndarray, n_samples: int) -> np.ndarray:
    t = np.arange(n_samples) - n_samples // 3
    trough = -np.exp(-0.5 * (t / 3.0) ** 2)
    peak = 0.4 * np.exp(-0.5 * ((t - 10) / 6.0) ** 2)
    waveform = (trough + peak).astype(np.float32)  # (n_samples,)
    dy = positions[None, :, 1] - units["depth"][:, None]
    dx = positions[None, :, 0] - units["x"][:, None]
    spatial = np.exp(-0.5 * (dy / FOOTPRINT_SIGMA_UM) ** 2) * np.exp(-0.5 * (dx / 60.0) ** 2)
    spatial[units["noise"]] = np.exp(-0.5 * (dy[units["noise"]] / 200.0) ** 2)
    spatial[spatial < 0.01] = 0.0
    return (waveform[None, :, None] * spatial[:, None, :]).astype(np.float32)


def _whitening_inverse(n_channels: int) -> np.ndarray:
    winv = np.eye(n_channels, dtype=np.float64) * 3.0
    idx = np.arange(n_channels - 1)
    winv[idx, idx + 1] = 0.5
    winv[idx + 1, idx] = 0.5
    return winv.astype(np.float32)


def _local_channels(
    depths: np.ndarray, unit_shank: np.ndarray, positions: np.ndarray, shanks: np.ndarray
) -> np.ndarray:
    n_local = min(N_LOCAL, len(positions))
    local = np.empty((len(depths), N_LOCAL), dtype=np.int64)
    for u, (depth, shank) in enumerate(zip(depths, unit_shank, strict=True)):
        distance = np.abs(positions[:, 1] - depth) + 1e6 * (shanks != shank)
        nearest = np.argsort(distance, kind="stable")[:n_local]
        local[u] = np.resize(nearest, N_LOCAL)
    return local


def _pc_features(
    rng: np.random.Generator,
    depth: np.ndarray,
    unit: np.ndarray,
    local: np.ndarray,
    positions: np.ndarray,
    scale: np.ndarray,
) -> np.ndarray:
    y = positions[:, 1].astype(np.float32)[local[unit]]  # (n, N_LOCAL)
    dy = (y - depth[:, None].astype(np.float32)) / np.float32(FOOTPRINT_SIGMA_UM)
    first = np.exp(np.float32(-0.5) * dy * dy) * scale[:, None].astype(np.float32)
    first += rng.standard_normal(first.shape, dtype=np.float32) * np.float32(0.3)
    features = np.empty((len(depth), N_PCS, N_LOCAL), dtype=np.float32)
    features[:, 0] = first
    features[:, 1] = 0.3 * first
    features[:, 2] = -0.1 * first
    return features


def _write_ops(
    path: Path,
    drift: str,
    drift_um: float,
    duration: float,
    period: float,
    sample_rate: float,
    positions: np.ndarray,
) -> None:
    batch_size = 60000
    n_batches = max(1, int(np.ceil(duration * sample_rate / batch_size)))
    centres = (np.arange(n_batches) + 0.5) * batch_size / sample_rate
    shift = drift_displacement(centres, drift, drift_um, duration, period)
    ops = {
        "dshift": (-shift)[:, None].astype(np.float32),  # Kilosort's sign: opposite to tissue
        "yblk": np.array([float(np.median(positions[:, 1]))]),
        "batch_size": batch_size,
        "NT": batch_size,
        "fs": float(sample_rate),
        "Nbatches": n_batches,
        "settings": {"nblocks": 1, "batch_size": batch_size},
    }
    array = np.empty((), dtype=object)
    array[()] = ops
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        pickle.dump(array, fh, protocol=3)


def _write_labels(folder: Path, labels: tuple[str, ...], curated: bool, merged_id: int) -> None:
    ks_labels = ["mua" if lab == "noise" else lab for lab in labels]
    rows = "".join(f"{u}\t{lab}\n" for u, lab in enumerate(ks_labels))
    (folder / "cluster_KSLabel.tsv").write_text("cluster_id\tKSLabel\n" + rows)
    if curated:
        ids = list(range(2, len(labels))) + [merged_id]
        group = {u: labels[u] for u in range(len(labels))}
        group[merged_id] = labels[0] if labels[0] == labels[1] else "mua"
        rows = "".join(f"{u}\t{group[u]}\n" for u in ids)
        (folder / "cluster_group.tsv").write_text("cluster_id\tgroup\n" + rows)


def _write_params(path: Path, n_channels: int, sample_rate: float, gain: float | None) -> None:
    lines = [
        "dat_path = 'recording.bin'",
        f"n_channels_dat = {n_channels}",
        "dtype = 'int16'",
        "offset = 0",
        f"sample_rate = {sample_rate!r}",
        "hp_filtered = True",
    ]
    if gain is not None:
        lines.append(f"gain = {gain!r}")
    path.write_text("\n".join(lines) + "\n")


def _write_truth(path: Path, truth: SyntheticSession, units: dict[str, np.ndarray]) -> None:
    record = {
        "layout": truth.layout,
        "n_spikes": truth.n_spikes,
        "duration": truth.duration,
        "sample_rate": truth.sample_rate,
        "drift": truth.drift,
        "drift_um": truth.drift_um,
        "drift_period_s": truth.drift_period_s,
        "frame": truth.frame,
        "unit_depths": truth.unit_depths.tolist(),
        "unit_amplitudes": truth.unit_amplitudes.tolist(),
        "unit_labels": list(truth.unit_labels),
        "unit_shanks": units["shank"].tolist(),
    }
    path.write_text(json.dumps(record, indent=1))


class _NpyWriter:
    """Write a C-ordered ``.npy`` file row chunk by row chunk."""

    def __init__(self, path: Path, dtype: type, shape: tuple[int, ...]) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.shape = shape
        self.rows = 0
        self._fh = path.open("wb")
        np.lib.format.write_array_header_1_0(
            self._fh,
            {
                "descr": np.lib.format.dtype_to_descr(self.dtype),
                "fortran_order": False,
                "shape": shape,
            },
        )

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        self._fh.write(memoryview(chunk).cast("B"))
        self.rows += len(chunk)

    def close(self) -> None:
        self._fh.close()
        if self.rows != self.shape[0]:
            raise RuntimeError(f"{self.path}: wrote {self.rows} rows, expected {self.shape[0]}")
