"""SpikeInterface validation cases: ground-truth sortings on drifting recordings, exported to Phy.

Not run in CI. For every case, a 64-channel Neuropixels-1.0-like recording with a known
rigid displacement is simulated with SpikeInterface's own generator
(``spikeinterface.generation.generate_drifting_recording`` fed with our own displacement
vectors), a SortingAnalyzer is built from the GROUND-TRUTH sorting, the extensions
``export_to_phy`` needs are computed with SpikeInterface's defaults (plus ``spike_locations``),
and ``spikeinterface.exporters.export_to_phy`` is run with its default options.

Run from the repository root. The dev venv has spikeinterface 0.105.3 but no scipy /
scikit-learn (needed by the drift generator and the PCA), so a separate venv is used::

    python3 -m venv /work/venvs/si
    /work/venvs/si/bin/pip install spikeinterface==0.105.3 probeinterface==0.4.2 numpy==2.4.6 \
        pandas==3.1.1 neo==0.14.6 scipy==1.17.1 scikit-learn==1.9.1
    /work/venvs/si/bin/python benchmarks/validation/make_si_cases.py   # all cases + CI export
    /work/venvs/si/bin/python benchmarks/validation/make_si_cases.py --cases step50 --no-ci

Outputs (``benchmarks/_data/`` is git-ignored scratch)::

    benchmarks/_data/validation/si/<case>/recording/  the drifting recording (float32 µV)
    benchmarks/_data/validation/si/<case>/analyzer/   SortingAnalyzer, binary_folder
    benchmarks/_data/validation/si/<case>/phy/        export_to_phy output (with recording.dat)
    benchmarks/_data/validation/si/<case>/ground_truth.npz
    tests/data/si_export_step50/                              small CI copy (no recording.dat)

Sign convention: a positive displacement moves every unit towards LARGER probe y.
A unit is at ``unit_y_um + displacement_um(t)``; ``unit_y_um`` includes the constant
``offset_um`` (shift25), ``unit_y0_um`` does not; ``total_displacement_um`` = drift + offset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT_ROOT = ROOT / "benchmarks" / "_data" / "validation" / "si"
CI_OUT = ROOT / "tests" / "data" / "si_export_step50"
CI_SHIFT_OUT = ROOT / "tests" / "data" / "si_shift_cases"

FS = 30000.0
DFS = 10.0  # displacement vector sampling rate (Hz) -> 0.1 s grid
BATCH_S = 2.0  # batches for the per-batch truth (same as the KS4 cases)
STEP_UM = 0.5  # resolution of the precomputed moved templates
JOB_KWARGS = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)

# name: (seed, duration_s, n_units, drift spec, offset_um)
#   drift spec: "none" | "step:FRAC:UM" | "zigzag:PERIOD:AMP" (+-AMP triangle, starts at 0 rising)
# The same seed gives the same units, templates, spike trains and noise.
CASES = {
    "zigzag15": (42, 60.0, 20, "zigzag:30:15", 0.0),
    "step50": (42, 60.0, 20, "step:0.5:30", 0.0),
    "stable": (42, 60.0, 20, "none", 0.0),
    "shift25": (42, 60.0, 20, "none", 25.0),
    "other_units": (4242, 60.0, 20, "none", 0.0),
}
CI_CASE = ("step50_ci", (42, 20.0, 6, "step:0.5:30", 0.0))
# small exports for the between-session tests in CI: 20 s, 12 units, no PC features (the
# shift comes from the templates), kept in tests/data/si_shift_cases/<case>
CI_SHIFT_CASES = {
    "stable": (42, 20.0, 12, "none", 0.0),
    "shift25": (42, 20.0, 12, "none", 25.0),
    "other_units": (4242, 20.0, 12, "none", 0.0),
}


def make_probe():
    """Return 64 channels in a Neuropixels 1.0 layout (x 43/11 / 59/27 µm, 20 µm rows)."""
    from probeinterface import Probe

    rows = np.repeat(np.arange(32), 2)
    x = np.where(rows % 2 == 0, np.tile([43.0, 11.0], 32), np.tile([59.0, 27.0], 32))
    y = rows * 20.0
    probe = Probe(ndim=2, si_units="um")
    probe.set_contacts(positions=np.c_[x, y], shapes="square", shape_params={"width": 12})
    probe.create_auto_shape(probe_type="tip")
    probe.set_device_channel_indices(np.arange(64))
    return probe


def displacement(spec, t, duration):
    """Rigid displacement (µm, + = towards larger y) at times ``t`` (s), without the offset."""
    kind, *v = spec.split(":")
    v = [float(a) for a in v]
    t = np.asarray(t, dtype=float)
    if kind == "none":
        return np.zeros_like(t)
    if kind == "step":
        return np.where(t >= v[0] * duration, v[1], 0.0)
    if kind == "zigzag":
        phase = np.mod(t / v[0] + 0.25, 1.0)
        return v[1] * (2.0 * (1.0 - np.abs(2.0 * phase - 1.0)) - 1.0)
    raise ValueError(spec)


def make_case(name, seed, duration, n_units, spec, offset_um, out_dir, copy_binary=True):
    import spikeinterface.core as si
    from spikeinterface.exporters import export_to_phy
    from spikeinterface.generation import generate_drifting_recording

    t0 = time.time()
    probe = make_probe()
    n_t = int(np.ceil(duration * DFS))
    t_grid = np.arange(n_t) / DFS
    drift = displacement(spec, t_grid, duration)
    total = drift + offset_um
    steps_y = np.unique(np.round(total / STEP_UM) * STEP_UM)
    steps = np.c_[np.zeros_like(steps_y), steps_y]
    vec = np.zeros((n_t, 2, 1))
    vec[:, 1, 0] = total
    unit_factor = np.ones((n_units, 1))
    unit_disp = np.repeat(vec[:, :, 0][:, None, :], n_units, axis=1)
    static_rec, rec, sorting, extra = generate_drifting_recording(
        num_units=n_units,
        duration=duration,
        sampling_frequency=FS,
        probe=probe,
        displacement_data=(unit_disp, vec, unit_factor, DFS, steps),
        generate_sorting_kwargs=dict(firing_rates=(2.0, 15.0), refractory_period_ms=4.0),
        extra_outputs=True,
        seed=seed,
    )
    del static_rec

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    # the injected recording cannot be serialised; save it (float32, µV) so that the
    # analyzer keeps a reloadable recording link
    rec_saved = rec.save(folder=out_dir / "recording", format="binary", **JOB_KWARGS)
    analyzer = si.create_sorting_analyzer(
        sorting,
        rec_saved,
        format="binary_folder",
        folder=out_dir / "analyzer",
        seed=seed,
        job_kwargs=JOB_KWARGS,
    )
    # what export_to_phy needs, SpikeInterface defaults, plus spike_locations
    for ext in (
        "random_spikes",
        "waveforms",
        "templates",
        "spike_amplitudes",
        "principal_components",
        "spike_locations",
    ):
        analyzer.compute(ext, **({} if ext in ("random_spikes", "templates") else JOB_KWARGS))
    export_to_phy(analyzer, out_dir / "phy", copy_binary=copy_binary, verbose=False, **JOB_KWARGS)

    # ground truth
    sv = sorting.to_spike_vector()
    seg = rec.segments[0]
    spike_disp = rec.drifting_templates.displacements[seg.displacement_indices][:, 1]
    loc = extra["unit_locations"]
    n_samples = int(duration * FS)
    n_b = int(np.ceil(duration / BATCH_S))
    batch = np.array(
        [total[int(b * BATCH_S * DFS) : int((b + 1) * BATCH_S * DFS)].mean() for b in range(n_b)]
    )
    t01 = np.round(np.arange(0.0, duration + 1e-9, 0.1), 10)
    truth = dict(
        fs=np.float64(FS),
        duration_s=np.float64(duration),
        n_samples=np.int64(n_samples),
        seed=np.int64(seed),
        drift_spec=np.frombuffer(spec.encode(), dtype=np.uint8),
        offset_um=np.float64(offset_um),
        channel_x_um=probe.contact_positions[:, 0].astype(np.float32),
        channel_y_um=probe.contact_positions[:, 1].astype(np.float32),
        displacement_t_s=t01,
        displacement_um=displacement(spec, t01, duration).astype(np.float32),
        total_displacement_um=(displacement(spec, t01, duration) + offset_um).astype(np.float32),
        batch_size=np.int64(BATCH_S * FS),
        batch_start_s=np.arange(n_b) * BATCH_S,
        batch_displacement_um=(batch - offset_um).astype(np.float32),
        batch_total_displacement_um=batch.astype(np.float32),
        unit_x_um=loc[:, 0].astype(np.float32),
        unit_y0_um=loc[:, 1].astype(np.float32),
        unit_y_um=(loc[:, 1] + offset_um).astype(np.float32),
        unit_z_um=loc[:, 2].astype(np.float32),
        spike_times_samples=sv["sample_index"].astype(np.int64),
        spike_units=sv["unit_index"].astype(np.int16),
        spike_total_displacement_um=spike_disp.astype(np.float32),  # as injected (0.5 µm steps)
        spike_true_y_um=(loc[sv["unit_index"], 1] + spike_disp).astype(np.float32),
    )
    np.savez_compressed(out_dir / "ground_truth.npz", **truth)
    info = dict(
        case=name,
        seed=seed,
        duration_s=duration,
        n_units=n_units,
        drift=spec,
        offset_um=offset_um,
        n_spikes=int(sv.size),
        runtime_s=round(time.time() - t0, 1),
    )
    (out_dir / "case_info.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info), flush=True)
    return out_dir


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    ap.add_argument("--no-ci", action="store_true", help="skip the small CI exports")
    ap.add_argument("--ci-only", action="store_true", help="make only the small CI exports")
    args = ap.parse_args(argv)
    if args.ci_only:
        args.cases = []
    for name in args.cases:
        make_case(name, *CASES[name], OUT_ROOT / name)
    if not args.no_ci:
        # small step50: 20 s, 6 units, default export; the CI copy drops only recording.dat
        # (params.py keeps the absolute dat_path SpikeInterface wrote)
        name, params = CI_CASE
        src = make_case(name, *params, OUT_ROOT / name)
        if CI_OUT.exists():
            shutil.rmtree(CI_OUT)
        shutil.copytree(src / "phy", CI_OUT, ignore=shutil.ignore_patterns("recording.dat"))
        shutil.copy2(src / "ground_truth.npz", CI_OUT / "ground_truth.npz")
        size = sum(p.stat().st_size for p in CI_OUT.rglob("*") if p.is_file())
        print(f"CI export {CI_OUT}: {size / 1e6:.2f} MB", flush=True)
        drop = shutil.ignore_patterns("recording.dat", "pc_features.npy", "pc_feature_ind.npy")
        for name, params in CI_SHIFT_CASES.items():
            src = make_case(f"{name}_shift_ci", *params, OUT_ROOT / f"{name}_shift_ci")
            out = CI_SHIFT_OUT / name
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(src / "phy", out, ignore=drop)
            shutil.copy2(src / "ground_truth.npz", out / "ground_truth.npz")
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            print(f"CI export {out}: {size / 1e6:.2f} MB", flush=True)


if __name__ == "__main__":
    main()
