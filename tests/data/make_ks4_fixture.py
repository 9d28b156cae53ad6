"""Make the ``ks4_drift`` test fixture: real Kilosort 4 output of a simulated recording.

This script is **not** run in CI. It documents (and can reproduce) how the
small folder ``tests/data/ks4_drift/`` was made.

What it does
------------
1. Simulates a short extracellular recording (60 s, 30 kHz, 32 channels,
   int16 binary, channel-major interleaved like any Kilosort ``.bin``) on a
   Neuropixels-1.0-like probe: 16 rows at 20 µm vertical pitch, two sites per
   row, staggered x positions (43/11 µm on even rows, 59/27 µm on odd rows),
   so y spans 0-300 µm.
   Twelve units each have a biphasic spike waveform (~1.6 ms, trough then a
   slower positive rebound) whose amplitude decays with the 3-D distance from
   the unit to each site; they fire as Poisson processes (2-15 Hz, 2 ms
   refractory period). Gaussian noise (SD 10 bits) plus a weak common-mode
   noise is added.
   A known **rigid drift** is imposed: at time ``t`` every unit's footprint
   centre is at ``y_unit + displacement(t)``, with ``displacement`` a
   triangle wave between 0 and +24 µm (period 40 s; rising 0-20 s,
   falling 20-40 s, rising 40-60 s). Positive displacement means the units
   move towards larger probe y.
2. Saves the ground truth to ``ground_truth.npz`` (plain numeric arrays, no
   pickled objects): the displacement on a 0.1 s grid and per 2 s Kilosort
   batch, unit positions / amplitudes / rates, and every true spike time with
   its unit.
3. Runs Kilosort 4 (``kilosort.run_kilosort``) on the CPU with a probe dict
   built in code and ``nblocks=1`` (rigid drift correction).
4. Copies the files a reader needs into the output folder and drops the big
   ones (``pc_features.npy``, the binary, ...). ``ops.npy`` is re-saved as a
   *reduced* dict of small entries (still a numpy-pickled dict, exactly as
   ``kilosort.io.save_ops`` writes it: ``np.save(path, np.array(ops))``), with
   every value converted to numpy arrays or plain Python types, so that a
   restricted unpickler allowing only numpy arrays/dtypes and builtin
   containers can read it.

How to run
----------
Kilosort 4 needs its own environment (PyTorch CPU)::

    python3 -m venv /work/venvs/ks4
    /work/venvs/ks4/bin/pip install torch==2.13.0      # CPU wheel, first
    /work/venvs/ks4/bin/pip install kilosort==4.1.7
    /work/venvs/ks4/bin/python tests/data/make_ks4_fixture.py \\
        --scratch /work/ks4_scratch --out tests/data/ks4_drift

It took ~17 min on a busy shared 2-core machine (one torch thread; a
64-channel / 90 s version was far slower and was abandoned). The result is deterministic up to
floating-point differences in Kilosort / PyTorch (the simulation is seeded).

Variants (used for ``tests/data/ks4_cases/``, see ``benchmarks/validation/``)
------------------------------------------------------------------------------
Without the options below the script does exactly what made ``ks4_drift``.

``--drift SPEC``      ``tri:PERIOD:AMP`` (the default ``tri:40:24``: 0..AMP triangle),
                      ``zigzag:PERIOD:AMP`` (+-AMP triangle starting at 0, rising),
                      ``step:FRAC:UM`` (0 before FRAC*duration, UM from then on),
                      ``none``.
``--offset-um U``     constant shift added to every unit's y (the whole recording
                      moved by U µm towards larger y; units may leave the probe).
``--unit-seed N``     draw the unit population from its own RNG seeded N (the spike
                      trains and noise still come from the main seed).
``--n-units N``       number of units (default 12).
``--sim-only``        write the recording and ground truth to the scratch folder, no sort.

With any of the first four options, ``ground_truth.npz`` gains ``drift_spec``
(str as uint8 codes), ``offset_um``, ``unit_seed`` (-1 = main RNG), ``unit_y0_um``
(depth before the offset), ``total_displacement_um`` and
``batch_total_displacement_um`` (drift + offset); ``unit_y_um`` then INCLUDES the
offset, and ``displacement_um`` stays the time-varying part only, so a unit is at
``unit_y_um + displacement_um(t)``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------
# Simulation parameters
# ----------------------------------------------------------------------------
SEED = 20240611
FS = 30000  # Hz
DURATION_S = 60.0
N_ROWS = 16  # 2 sites per row -> 32 channels
ROW_PITCH_UM = 20.0
N_UNITS = 12
NOISE_SD = 10.0  # int16 bits
COMMON_NOISE_SD = 2.0  # bits, shared by all channels
DRIFT_AMPLITUDE_UM = 24.0
DRIFT_PERIOD_S = 40.0
REFRACTORY_S = 0.002
WAVEFORM_MS = 2.0  # length of the simulated waveform window
BATCH_SIZE = 60000  # Kilosort default, 2 s at 30 kHz
CHUNK_S = 2.0  # simulation chunk


def make_probe():
    """Neuropixels-1.0-like geometry: N_ROWS rows x 2 staggered sites, 20 µm pitch."""
    xc, yc = [], []
    for row in range(N_ROWS):
        xs = (43.0, 11.0) if row % 2 == 0 else (59.0, 27.0)
        for x in xs:
            xc.append(x)
            yc.append(row * ROW_PITCH_UM)
    xc = np.asarray(xc, dtype=np.float32)
    yc = np.asarray(yc, dtype=np.float32)
    n_chan = xc.size
    probe = {
        "chanMap": np.arange(n_chan, dtype=np.int32),
        "xc": xc,
        "yc": yc,
        "kcoords": np.zeros(n_chan, dtype=np.float32),
        "n_chan": n_chan,
    }
    return probe


def displacement_um(t_s):
    """Imposed rigid displacement (µm) of all units at time(s) ``t_s``.

    Triangle wave: 0 at t=0, +DRIFT_AMPLITUDE_UM at t=period/2, 0 at t=period...
    """
    phase = np.mod(np.asarray(t_s, dtype=np.float64) / DRIFT_PERIOD_S, 1.0)
    tri = 1.0 - np.abs(2.0 * phase - 1.0)  # 0 -> 1 -> 0
    return DRIFT_AMPLITUDE_UM * tri


def make_displacement(spec):
    """Return ``f(t_s) -> µm`` for a drift spec (see the module docstring)."""
    kind, *vals = spec.split(":")
    vals = [float(v) for v in vals]
    if kind == "tri" and vals == [DRIFT_PERIOD_S, DRIFT_AMPLITUDE_UM]:
        return displacement_um  # the fixture's own function, unchanged
    if kind == "tri":
        period, amp = vals

        def f(t_s):
            phase = np.mod(np.asarray(t_s, dtype=np.float64) / period, 1.0)
            return amp * (1.0 - np.abs(2.0 * phase - 1.0))
    elif kind == "zigzag":
        period, amp = vals

        def f(t_s):
            phase = np.mod(np.asarray(t_s, dtype=np.float64) / period + 0.25, 1.0)
            return amp * (2.0 * (1.0 - np.abs(2.0 * phase - 1.0)) - 1.0)
    elif kind == "step":
        frac, amp = vals
        t_step = frac * DURATION_S

        def f(t_s):
            t = np.asarray(t_s, dtype=np.float64)
            return np.where(t >= t_step, amp, 0.0)
    elif kind == "none":

        def f(t_s):
            return np.zeros_like(np.asarray(t_s, dtype=np.float64))
    else:
        raise ValueError(f"unknown drift spec {spec!r}")
    return f


def unit_waveform(rng, n_samp):
    """A biphasic extracellular spike (trough at the centre sample), peak |1|."""
    t = (np.arange(n_samp) - n_samp // 2) / FS * 1e3  # ms
    w_trough = rng.uniform(0.10, 0.16)  # ms
    w_peak = rng.uniform(0.25, 0.40)
    lag = rng.uniform(0.35, 0.55)
    ratio = rng.uniform(0.25, 0.45)
    pre = rng.uniform(0.05, 0.12)
    w = (
        -np.exp(-0.5 * (t / w_trough) ** 2)
        + ratio * np.exp(-0.5 * ((t - lag) / w_peak) ** 2)
        + pre * np.exp(-0.5 * ((t + 0.25) / 0.1) ** 2)
    )
    # taper to zero at the window edges
    w *= np.hanning(n_samp) ** 0.25
    return (w / np.abs(w).max()).astype(np.float64)


def simulate(
    out_bin: Path,
    rng,
    n_units=N_UNITS,
    disp_fn=displacement_um,
    offset_um=0.0,
    unit_rng=None,
    extended=False,
):
    """Write the int16 recording, return the ground truth dict.

    The defaults reproduce the ``ks4_drift`` fixture exactly.
    """
    N_UNITS = n_units  # noqa: N806 (shadows the module default)
    displacement_um = disp_fn  # noqa: F811
    urng = rng if unit_rng is None else unit_rng
    probe = make_probe()
    xc = probe["xc"].astype(np.float64)
    yc = probe["yc"].astype(np.float64)
    n_chan = probe["n_chan"]
    n_samples = int(round(DURATION_S * FS))
    n_wav = int(round(WAVEFORM_MS * 1e-3 * FS)) + 1  # 61 samples
    half = n_wav // 2

    # units: depths spread over the probe, away from the ends so drift keeps
    # them on the probe
    unit_y = np.sort(urng.uniform(40.0, yc.max() - 60.0, N_UNITS))
    unit_x = urng.uniform(0.0, 70.0, N_UNITS)
    unit_z = urng.uniform(10.0, 30.0, N_UNITS)  # distance from the probe plane
    unit_amp = urng.uniform(70.0, 220.0, N_UNITS)  # trough at the nearest point, bits
    unit_rate = urng.uniform(2.0, 15.0, N_UNITS)
    unit_decay = urng.uniform(25.0, 40.0, N_UNITS)  # µm, exponential space constant
    waves = np.stack([unit_waveform(urng, n_wav) for _ in range(N_UNITS)])

    # spike trains: Poisson with refractory period
    all_t, all_u = [], []
    for u in range(N_UNITS):
        n_draw = int(unit_rate[u] * DURATION_S * 1.5) + 20
        isi = rng.exponential(1.0 / unit_rate[u], n_draw) + REFRACTORY_S
        t = np.cumsum(isi)
        t = t[t < DURATION_S - 0.01]
        s = np.round(t * FS).astype(np.int64)
        s = s[(s >= half) & (s < n_samples - half - 1)]
        all_t.append(s)
        all_u.append(np.full(s.size, u, dtype=np.int16))
    spike_samples = np.concatenate(all_t)
    spike_units = np.concatenate(all_u)
    order = np.argsort(spike_samples, kind="stable")
    spike_samples = spike_samples[order]
    spike_units = spike_units[order]

    # per-spike amplitude jitter
    spike_scale = rng.normal(1.0, 0.08, spike_samples.size).clip(0.7, 1.3)

    chunk = int(CHUNK_S * FS)
    with open(out_bin, "wb") as fh:
        for c0 in range(0, n_samples, chunk):
            c1 = min(n_samples, c0 + chunk)
            n = c1 - c0
            data = rng.normal(0.0, NOISE_SD, (n, n_chan))
            data += rng.normal(0.0, COMMON_NOISE_SD, (n, 1))
            # spikes whose window overlaps this chunk
            lo = np.searchsorted(spike_samples, c0 - half)
            hi = np.searchsorted(spike_samples, c1 + half)
            for i in range(lo, hi):
                s = spike_samples[i]
                u = spike_units[i]
                d = displacement_um(s / FS)
                if offset_um:
                    d = d + offset_um
                dist = np.sqrt(
                    (xc - unit_x[u]) ** 2 + (yc - (unit_y[u] + d)) ** 2 + unit_z[u] ** 2
                )
                spatial = np.exp(-(dist - unit_z[u]) / unit_decay[u])
                spatial[spatial < 0.02] = 0.0
                snip = np.outer(waves[u], spatial) * (unit_amp[u] * spike_scale[i])
                a0 = s - half
                w0 = max(0, c0 - a0)
                w1 = min(n_wav, c1 - a0)
                if w1 <= w0:
                    continue
                data[a0 + w0 - c0 : a0 + w1 - c0] += snip[w0:w1]
            np.clip(np.round(data), -32768, 32767).astype(np.int16).tofile(fh)

    t_grid = np.arange(0.0, DURATION_S + 1e-9, 0.1)
    n_batches = int(np.ceil(n_samples / BATCH_SIZE))
    batch_disp = np.array(
        [
            displacement_um(
                np.arange(b * BATCH_SIZE, min(n_samples, (b + 1) * BATCH_SIZE), 100) / FS
            ).mean()
            for b in range(n_batches)
        ]
    )
    truth = dict(
        fs=np.float64(FS),
        duration_s=np.float64(DURATION_S),
        n_samples=np.int64(n_samples),
        seed=np.int64(SEED),
        noise_sd_bits=np.float64(NOISE_SD),
        channel_x_um=xc.astype(np.float32),
        channel_y_um=yc.astype(np.float32),
        displacement_t_s=t_grid.astype(np.float64),
        displacement_um=displacement_um(t_grid).astype(np.float32),
        batch_size=np.int64(BATCH_SIZE),
        batch_start_s=(np.arange(n_batches) * BATCH_SIZE / FS).astype(np.float64),
        batch_displacement_um=batch_disp.astype(np.float32),
        unit_x_um=unit_x.astype(np.float32),
        unit_y_um=unit_y.astype(np.float32),
        unit_z_um=unit_z.astype(np.float32),
        unit_amplitude_bits=unit_amp.astype(np.float32),
        unit_rate_hz=unit_rate.astype(np.float32),
        unit_decay_um=unit_decay.astype(np.float32),
        unit_waveforms=waves.astype(np.float32),
        spike_times_samples=spike_samples.astype(np.int64),
        spike_units=spike_units.astype(np.int16),
    )
    if extended:
        truth.update(
            offset_um=np.float64(offset_um),
            unit_y0_um=unit_y.astype(np.float32),
            unit_y_um=(unit_y + offset_um).astype(np.float32),
            total_displacement_um=(displacement_um(t_grid) + offset_um).astype(np.float32),
            batch_total_displacement_um=(batch_disp + offset_um).astype(np.float32),
        )
    return probe, truth


# ----------------------------------------------------------------------------
# ops reduction
# ----------------------------------------------------------------------------
OPS_KEEP = (
    "dshift",
    "yblk",
    "fs",
    "batch_size",
    "NT",
    "Nbatches",
    "nblocks",
    "n_chan_bin",
    "Nchan",
    "binning_depth",
    "tmin",
    "tmax",
    "nt",
    "duplicate_spike_ms",
    "data_dtype",
    "do_CAR",
    "invert_sign",
    "n_units_total",
    "n_units_good",
    "n_spikes",
    "mean_drift",
    "runtime",
    "xc",
    "yc",
    "chanMap",
    "kcoords",
    "settings",
    "probe",
)


def to_plain(v):
    """Convert a value to numpy arrays / builtin Python types only."""
    try:
        import torch

        if isinstance(v, torch.Tensor):
            return v.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, dict):
        return {str(k): to_plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return [to_plain(x) for x in v.tolist()]
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, Path):
        return str(v)
    # anything else (np.dtype, torch.device, ...) becomes a string
    return str(v)


def reduce_ops(ops_path: Path, out_path: Path):
    ops = np.load(ops_path, allow_pickle=True).item()
    small = {k: to_plain(ops[k]) for k in OPS_KEEP if k in ops}
    np.save(out_path, np.array(small, dtype=object), allow_pickle=True)
    return sorted(ops.keys()), sorted(small.keys())


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------
KEEP_FILES = (
    "params.py",
    "spike_times.npy",
    "spike_templates.npy",
    "spike_clusters.npy",
    "amplitudes.npy",
    "spike_positions.npy",
    "templates.npy",
    "channel_positions.npy",
    "channel_map.npy",
    "channel_shanks.npy",
    "whitening_mat_inv.npy",
    "cluster_KSLabel.tsv",
    "cluster_group.tsv",
    "kilosort4.log",
)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scratch", type=Path, default=Path("/work/ks4_scratch"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "ks4_drift")
    ap.add_argument("--skip-sim", action="store_true", help="reuse an existing scratch recording")
    ap.add_argument(
        "--skip-sort", action="store_true", help="reuse existing Kilosort output in scratch"
    )
    ap.add_argument(
        "--drift",
        default=None,
        help="tri:PERIOD:AMP | zigzag:PERIOD:AMP | step:FRAC:UM | none "
        f"(default tri:{DRIFT_PERIOD_S:g}:{DRIFT_AMPLITUDE_UM:g})",
    )
    ap.add_argument(
        "--offset-um",
        type=float,
        default=0.0,
        help="constant shift of all units towards larger y (µm)",
    )
    ap.add_argument(
        "--unit-seed", type=int, default=None, help="separate seed for the unit population"
    )
    ap.add_argument("--n-units", type=int, default=N_UNITS)
    ap.add_argument(
        "--sim-only", action="store_true", help="simulate into --scratch and stop (no Kilosort)"
    )
    args = ap.parse_args(argv)
    extended = (
        args.drift is not None
        or args.offset_um != 0.0
        or args.unit_seed is not None
        or args.n_units != N_UNITS
    )
    sim_kw = {}
    if extended:
        sim_kw = dict(
            n_units=args.n_units,
            disp_fn=make_displacement(
                args.drift or f"tri:{DRIFT_PERIOD_S:g}:{DRIFT_AMPLITUDE_UM:g}"
            ),
            offset_um=args.offset_um,
            unit_rng=(None if args.unit_seed is None else np.random.default_rng(args.unit_seed)),
            extended=True,
        )

    # One thread: on a shared 2-core machine, OpenMP spin-waiting with 2
    # threads made Kilosort several times slower than a single thread.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if not args.sim_only:
        import kilosort
        import torch
        from kilosort import run_kilosort

    scratch = args.scratch
    scratch.mkdir(parents=True, exist_ok=True)
    out = args.out
    bin_path = scratch / "recording.bin"
    ks_dir = scratch / "kilosort4"
    truth_path = scratch / "ground_truth.npz"

    rng = np.random.default_rng(SEED)
    probe = make_probe()
    if not args.skip_sim or not truth_path.exists():
        t0 = time.time()
        probe, truth = simulate(bin_path, rng, **sim_kw)
        if extended:
            spec = args.drift or f"tri:{DRIFT_PERIOD_S:g}:{DRIFT_AMPLITUDE_UM:g}"
            truth["drift_spec"] = np.frombuffer(spec.encode(), dtype=np.uint8)
            truth["unit_seed"] = np.int64(-1 if args.unit_seed is None else args.unit_seed)
            truth["n_units"] = np.int64(args.n_units)
        np.savez_compressed(truth_path, **truth)
        print(
            f"simulated {DURATION_S} s, {truth['spike_units'].size} spikes "
            f"in {time.time() - t0:.1f} s",
            flush=True,
        )

    if args.sim_only:
        return
    settings = {
        "n_chan_bin": probe["n_chan"],
        "fs": FS,
        "batch_size": BATCH_SIZE,
        "nblocks": 1,
    }
    sort_runtime = None
    if not args.skip_sort:
        if ks_dir.exists():
            shutil.rmtree(ks_dir)
        t0 = time.time()
        run_kilosort(
            settings=settings,
            probe=probe,
            filename=bin_path,
            results_dir=ks_dir,
            data_dtype="int16",
            device=torch.device("cpu"),
            torch_thread_lim=1,
        )
        sort_runtime = time.time() - t0
        print(f"kilosort {kilosort.__version__} finished in {sort_runtime:.1f} s", flush=True)

    # assemble the fixture folder
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in KEEP_FILES:
        src = ks_dir / name
        if src.exists():
            shutil.copy2(src, out / name)
    all_keys, kept_keys = reduce_ops(ks_dir / "ops.npy", out / "ops.npy")
    shutil.copy2(truth_path, out / "ground_truth.npz")
    info = {
        "kilosort_version": kilosort.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "sort_runtime_s": sort_runtime,
        "settings": settings,
        "ops_keys_original": all_keys,
        "ops_keys_kept": kept_keys,
    }
    (scratch / "fixture_info.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
