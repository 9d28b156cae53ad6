"""Which sessions of a batch failed, and the one-screen summary printed at the end of a run.

Every per-session step leaves a record even when the session fails (see
:mod:`driftqc.pipeline.guard`): the QC record (``qc.json``, which also carries failures of
the load and filter steps), the drift map's sidecar and the drift QC record. This module
reads them back, in step order, and reports for each failed session the first step that
failed, its one-line reason and the log of that step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from driftqc.pipeline.guard import one_line

__all__ = ["SessionFailure", "failed_sessions", "format_failures"]

_STAGE_PREFIX = re.compile(r"^(?P<stage>\w+) failed: (?P<reason>.*)$", re.S)
_SEE_LOG = re.compile(r" \(see [^()]*\)$")
MAX_LISTED = 20
REASON_CHARS = 110


@dataclass(frozen=True)
class SessionFailure:
    """A failed session: the step where it failed first, why, and that step's log."""

    session: str
    stage: str
    reason: str
    log: str


def failed_sessions(
    sessions: Sequence[str],
    records: Mapping[str, str],
    logs: Mapping[str, str],
) -> list[SessionFailure]:
    """Read the per-session records of a batch and list the sessions that failed.

    Parameters
    ----------
    sessions
        Session ids, in order.
    records
        ``step -> record path pattern`` with a ``{session}`` field, in step order: the QC
        record (``status``/``error`` as ``"<stage> failed: <reason>"``), the drift map's
        sidecar (``status``/``stage``/``error``), the drift QC record. Records that do not
        exist (steps that did not run) are skipped.
    logs
        ``step -> log path pattern`` with a ``{session}`` field.

    Returns
    -------
    list of SessionFailure
        One per failed session, in session order; the first step (in ``records`` order)
        whose record says ``failed``.
    """
    failures = []
    for sid in sessions:
        for step, pattern in records.items():
            found = _failure_in(Path(pattern.format(session=sid)), step)
            if found is None:
                continue
            stage, reason = found
            log = logs.get(stage, logs.get(step, ""))
            failures.append(SessionFailure(sid, stage, reason, log.format(session=sid)))
            break
    return failures


def format_failures(
    failures: Sequence[SessionFailure], n_sessions: int, *, table: str | None = None
) -> str:
    """Format the end-of-run summary: a line per failed session (id, stage, reason, log).

    Parameters
    ----------
    failures
        From :func:`failed_sessions`.
    n_sessions
        Sessions in the batch.
    table
        The QC table, named as the place to read every reason in full.

    Returns
    -------
    str
        At most :data:`MAX_LISTED` sessions are listed; reasons are cut to one line.
    """
    head = f"{len(failures)} of {n_sessions} sessions FAILED"
    if table:
        head += f" (marked in {table})"
    width = max([len("session"), *(len(f.session) for f in failures[:MAX_LISTED])])
    stages = max([len("stage"), *(len(f.stage) for f in failures[:MAX_LISTED])])
    lines = [head + ":", f"  {'session':<{width}}  {'stage':<{stages}}  reason  [log]"]
    for failure in failures[:MAX_LISTED]:
        reason = one_line(_SEE_LOG.sub("", one_line(failure.reason, 10_000)), REASON_CHARS)
        lines.append(
            f"  {failure.session:<{width}}  {failure.stage:<{stages}}  {reason}  [{failure.log}]"
        )
    if len(failures) > MAX_LISTED:
        lines.append(f"  ... and {len(failures) - MAX_LISTED} more")
    lines.append("Fix their files and run again: only they and the summaries are redone.")
    return "\n".join(lines)


def _failure_in(path: Path, step: str) -> tuple[str, str] | None:
    """``(stage, reason)`` when the record at ``path`` says failed; None if ok or absent."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return step, f"unreadable record {path} ({exc})"
    if not isinstance(record, dict):
        return step, f"{path} is not a driftqc record"
    if record.get("status") == "ok":
        return None
    error = str(record.get("error") or f"status {record.get('status')!r}")
    stage = record.get("stage")
    if stage:
        return str(stage), error
    match = _STAGE_PREFIX.match(error)
    if match:
        return match["stage"], match["reason"]
    return step, error
