"""The steps of a batch of sessions, as the Snakemake workflow runs them.

* :mod:`driftqc.pipeline.guard`: :class:`SessionGuard`, the one place where any exception of
  a session's step becomes that session's failure (reason, traceback in the step's log).
* :mod:`driftqc.pipeline.cache`: the spike and selection caches and failure records.
* :mod:`driftqc.pipeline.session`: the per-session steps (load, filter, QC, render, drift QC).
* :mod:`driftqc.pipeline.batch`: the steps across sessions (amplitude summary, shifts, QC
  tables, grid), which treat a session with an unusable record as failed.
* :mod:`driftqc.pipeline.summary`: which sessions failed, for the end-of-run summary.

Importing this package imports only the guard; the step modules load numpy, pandas and
matplotlib as they need them.
"""

from driftqc.pipeline.guard import FailedSessionError, SessionGuard, StepFailure, describe_failure

__all__ = ["FailedSessionError", "SessionGuard", "StepFailure", "describe_failure"]
