"""Accuracy of driftqc's drift estimates: now measured on real sorter output, not synthetic data.

Usage::

    python benchmarks/bench_accuracy.py [--out benchmarks/ACCURACY.md] [--no-si]

The former version of this script measured the within-session trace and the between-session
shift on sessions written by ``driftqc.synthetic``, i.e. on the model the estimators were
written for; that is fine for speed, not evidence of accuracy. It now runs
``bench_trace_accuracy.py`` (within-session trace on real Kilosort 4 runs and SpikeInterface
recordings with known imposed drift; see that script) and leaves the between-session section
of ``ACCURACY.md`` to ``bench_shift_accuracy.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_trace_accuracy import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
