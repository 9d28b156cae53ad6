"""Quick numpy sanity checks of the validation folders (no driftqc code involved).

    .venv/bin/python benchmarks/validation/check_cases.py tests/data/ks4_cases/step50 ...
    .venv/bin/python benchmarks/validation/check_cases.py benchmarks/_data/validation/si/step50/phy

Kilosort 4 folder: cluster count, spike y range, corr / slope of -dshift against the
true per-batch displacement.
Phy export (SpikeInterface): pc_feature_ind padding, amplitude sign, params.py, and a
Kilosort-style centre of mass of the first PC over the pc_feature_ind channels
(negative values clipped, squared, -1 channels skipped) compared with the true depth.
``ground_truth.npz`` is looked for in the folder and in its parent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from driftqc.io.ops import read_ops


def _slope(x, y):
    x = x - x.mean()
    y = y - y.mean()
    return float((x * y).sum() / (x * x).sum()) if (x * x).sum() > 0 else float("nan")


def _truth(folder):
    for p in (folder / "ground_truth.npz", folder.parent / "ground_truth.npz"):
        if p.exists():
            return np.load(p)
    raise FileNotFoundError("ground_truth.npz")


def check_ks4(d, gt):
    clu = np.load(d / "spike_clusters.npy")
    pos = np.load(d / "spike_positions.npy")
    ops = read_ops(d / "ops.npy")  # the restricted unpickler: no code from a data folder
    labels = np.loadtxt(d / "cluster_KSLabel.tsv", dtype=str, skiprows=1, usecols=1, ndmin=1)
    dshift = np.asarray(ops["dshift"]).ravel()
    truth = gt["batch_displacement_um"]
    disp = gt["displacement_um"]
    print(
        f"  true drift (time-varying): {disp.min():.1f} .. {disp.max():.1f} µm; "
        f"offset {float(gt['offset_um']) if 'offset_um' in gt else 0.0:g} µm"
    )
    print(
        f"  {clu.size} spikes in {np.unique(clu).size} clusters "
        f"({(labels == 'good').sum()} good, {(labels == 'mua').sum()} mua); "
        f"{gt['spike_times_samples'].size} true spikes from {gt['unit_x_um'].size} units"
    )
    print(
        f"  spike_positions y: {pos[:, 1].min():.1f} .. {pos[:, 1].max():.1f} µm; "
        f"unit_y_um (truth, incl. offset): {gt['unit_y_um'].min():.1f} .. "
        f"{gt['unit_y_um'].max():.1f}"
    )
    print(
        f"  dshift: {dshift.min():.2f} .. {dshift.max():.2f} µm (shape {np.shape(ops['dshift'])})"
    )
    if truth.std() > 0:
        r = np.corrcoef(-dshift, truth)[0, 1]
        res = (-dshift - truth) - (-dshift - truth).mean()
        print(
            f"  corr(-dshift, truth) = {r:.4f}; slope {_slope(truth, -dshift):.3f}; "
            f"RMS err after offset {np.sqrt((res**2).mean()):.2f} µm, "
            f"max {np.abs(res).max():.2f}; "
            f"mean(-dshift) - mean(truth) = {(-dshift).mean() - truth.mean():.2f} µm"
        )
    else:
        print(
            f"  truth constant; std(dshift) = {dshift.std():.2f} µm, "
            f"mean(-dshift) = {(-dshift).mean():.2f}"
        )


def check_phy(d, gt):
    params = (d / "params.py").read_text()
    print("  params.py: " + params.replace("\n", " | "))
    pfi = np.load(d / "pc_feature_ind.npy")
    pf = np.load(d / "pc_features.npy")
    tmpl = np.load(d / "spike_templates.npy").ravel()
    amp = np.load(d / "amplitudes.npy").ravel()
    yc = np.load(d / "channel_positions.npy")[:, 1]
    npad = (pfi < 0).sum(1)
    print(
        f"  pc_features {pf.shape} {pf.dtype}; pc_feature_ind {pfi.shape} {pfi.dtype}, "
        f"-1 padding in {int((npad > 0).sum())}/{len(pfi)} rows "
        f"(max {npad.max()} slots, always at the row end: "
        f"{all((r[r >= 0].size == 0 or np.all(r[: (r >= 0).sum()] >= 0)) for r in pfi)})"
    )
    if (d / "template_ind.npy").exists():
        ti = np.load(d / "template_ind.npy")
        print(f"  template_ind {ti.shape}, equal to pc_feature_ind: {np.array_equal(ti, pfi)}")
    print(
        f"  amplitudes {amp.shape}: {amp.min():.1f} .. {amp.max():.1f}, "
        f"median {np.median(amp):.1f}, "
        f"{(amp < 0).mean() * 100:.1f} % negative"
    )
    inds = pfi[tmpl]  # (n_spikes, n_chan)
    true_y = gt["spike_true_y_um"]
    units = gt["spike_units"]
    print(
        f"  PC1 sign: {(pf[:, 0, :][inds >= 0] < 0).mean() * 100:.1f} % of the real "
        f"(spike, channel) PC1 values are negative"
    )
    for label, clip in (
        ("KS-style (PC1 clipped at 0, squared)", True),
        ("PC1 squared, no clipping", False),
    ):
        print(f"  -- {label}")
        _com_report(pf, inds, yc, true_y, units, clip)
    sl = d.parent / "analyzer" / "extensions" / "spike_locations" / "spike_locations.npy"
    if sl.exists():
        loc = np.load(sl)
        ly = loc["y"] if loc.dtype.names else loc[:, 1]
        td = _demean(true_y.astype(float), units)
        print(
            f"  analyzer spike_locations (center_of_mass) y vs true depth: "
            f"slope {_slope(true_y, ly):.3f}; "
            f"within-unit vs displacement slope "
            f"{_slope(td, _demean(ly, units)) if td.std() > 0 else float('nan'):.3f}"
        )


def _demean(x, units):
    x = np.asarray(x, dtype=float).copy()
    for u in np.unique(units):
        m = units == u
        x[m] -= x[m].mean()
    return x


def _com_report(pf, inds, yc, true_y, units, clip):
    w = (np.clip(pf[:, 0, :], 0, None) if clip else pf[:, 0, :]) ** 2
    w[inds < 0] = 0
    com = (w * yc[np.clip(inds, 0, None)]).sum(1) / np.maximum(w.sum(1), 1e-12)
    print(
        f"  COM depth: {com.min():.1f} .. {com.max():.1f} µm; true depth "
        f"{true_y.min():.1f} .. {true_y.max():.1f}"
    )
    print(
        f"  COM vs true depth (all spikes): slope {_slope(true_y, com):.3f}, "
        f"corr {np.corrcoef(true_y, com)[0, 1]:.4f}, "
        f"median(COM - true) {np.median(com - true_y):.1f} µm"
    )
    cd = _demean(com, units)
    td = _demean(true_y, units)
    if td.std() > 0:
        print(
            f"  within-unit COM change vs true displacement: slope {_slope(td, cd):.3f}, "
            f"corr {np.corrcoef(td, cd)[0, 1]:.3f}"
        )


def main(paths):
    for p in map(Path, paths):
        gt = _truth(p)
        print(p)
        if (p / "ops.npy").exists():
            check_ks4(p, gt)
        else:
            check_phy(p, gt)


if __name__ == "__main__":
    main(sys.argv[1:])
