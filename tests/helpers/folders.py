"""Tiny hand-made Kilosort folders whose depths and amplitudes are worked out by hand.

Kilosort 3 folder (``write_tiny_ks3``): four channels on one column at y = 0, 20, 40, 60 µm,
two templates, three spikes, ``whitening_mat_inv = 2·I`` so an unwhitened template is twice
the saved one.

* Template 0 has saved peak-to-trough 4 on channel 1 and 1.5 on channel 2, so unwhitened 8
  and 3: template amplitude 8. Its depth (channels ≥ 30 % of the max kept) is
  (8·20 + 3·40) / 11 = 280/11 µm.
* Template 1 has saved peak-to-trough 6 on channel 3 and 2 on channel 2: unwhitened 12 and
  4, amplitude 12.
* Spike 0 (template 0, scale 1.0): first-PC features 3 and 1 on channels 1 and 2, weights 9
  and 1: depth (9·20 + 1·40) / 10 = 22 µm; amplitude 8.
* Spike 1 (template 1, scale 0.5): features 2 and -4 on channels 3 and 2; the negative one
  counts as 0: depth 60 µm; amplitude 6.
* Spike 2 (template 0, scale 2.0): features -1 and -2, all weights zero, so it takes its
  template's depth 280/11 µm; amplitude 16.
* Times 30, 300, 3000 samples at 30 kHz: 0.001, 0.01, 0.1 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

KS3_DEPTHS = np.array([22.0, 60.0, 280.0 / 11.0])
KS3_AMPLITUDES = np.array([8.0, 6.0, 16.0])
KS3_TIMES = np.array([0.001, 0.01, 0.1])


def write_tiny_ks3(folder: Path, *, log: str | None = "kilosort3.log") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    templates = np.zeros((2, 3, 4), dtype=np.float32)
    templates[0, :, 1] = [0.0, -3.0, 1.0]
    templates[0, :, 2] = [0.0, -1.0, 0.5]
    templates[1, :, 3] = [1.0, -5.0, 0.0]
    templates[1, :, 2] = [0.0, -2.0, 0.0]
    pc = np.zeros((3, 2, 2), dtype=np.float32)
    pc[0, 0] = [3.0, 1.0]
    pc[1, 0] = [2.0, -4.0]
    pc[2, 0] = [-1.0, -2.0]
    pc[:, 1] = 7.0  # second PC: must be ignored
    np.save(folder / "spike_times.npy", np.array([30, 300, 3000], dtype=np.uint64))
    np.save(folder / "spike_templates.npy", np.array([0, 1, 0], dtype=np.uint32))
    np.save(folder / "amplitudes.npy", np.array([1.0, 0.5, 2.0]))
    np.save(folder / "templates.npy", templates)
    np.save(folder / "whitening_mat_inv.npy", 2.0 * np.eye(4))
    np.save(folder / "pc_features.npy", pc)
    np.save(folder / "pc_feature_ind.npy", np.array([[1, 2], [3, 2]], dtype=np.uint32))
    np.save(folder / "channel_positions.npy", np.array([[0, 0], [0, 20], [0, 40], [0, 60.0]]))
    (folder / "params.py").write_text(
        "dat_path = 'rec.bin'\nn_channels_dat = 4\ndtype = 'int16'\noffset = 0\n"
        "sample_rate = 30000.0\nhp_filtered = False\n"
    )
    if log:
        (folder / log).write_text("")
    return folder


KS4_DEPTHS = np.array([100.0, 250.0])
KS4_AMPLITUDES = np.array([10.0, 15.0])  # template peak-to-trough 5 x amplitudes 2 and 3


def write_tiny_ks4(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    templates = np.zeros((1, 3, 4), dtype=np.float32)
    templates[0, :, 2] = [1.0, -4.0, 0.5]  # peak-to-trough 5
    templates[0, :, 1] = [0.0, -1.0, 0.0]
    np.save(folder / "spike_times.npy", np.array([3000, 60000], dtype=np.int64))
    np.save(folder / "spike_templates.npy", np.array([0, 0], dtype=np.int32))
    np.save(folder / "amplitudes.npy", np.array([2.0, 3.0], dtype=np.float32))
    np.save(folder / "spike_positions.npy", np.array([[16.0, 100.0], [16.0, 250.0]]))
    np.save(folder / "templates.npy", templates)
    np.save(folder / "channel_positions.npy", np.array([[0, 0], [32, 0], [0, 15], [32, 15.0]]))
    (folder / "params.py").write_text("sample_rate = 30000\n")
    (folder / "kilosort4.log").write_text("")
    return folder
