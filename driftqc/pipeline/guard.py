"""The one place where a per-session step turns an exception into that session's failure.

A batch must finish every good session whatever goes wrong with a bad one: driftqc's own
errors (a corrupt file, a bad label table) and anything else a reader did not anticipate
(a ``ValueError`` from deep inside numpy, a ``RecursionError``). :class:`SessionGuard` wraps
the body of a step; any :class:`Exception` raised inside it is recorded as a
:class:`StepFailure` (the stage and a one-line reason), its full traceback is written to the
step's log (``sys.stderr``, which the workflow scripts redirect to the job's log file), and
the step then writes its failure record instead of its results.

* A driftqc error (:class:`driftqc.errors.DriftQCError`) already names the file and the
  problem: its message is the reason.
* A failure recorded by an earlier step (:class:`FailedSessionError`, raised when a later
  step reads a failure record) is passed on with its own stage and reason, unchanged.
* Anything else is reported as ``"<ExceptionType>: <message> (see <log>)"`` (the type with
  its module unless it is a builtin, e.g. ``_csv.Error``).

``KeyboardInterrupt`` and ``SystemExit`` are not exceptions of a session and propagate.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from driftqc.errors import DriftQCError

MAX_REASON_CHARS = 300


class FailedSessionError(DriftQCError):
    """The cache file records that an earlier step could not process the session."""

    def __init__(self, message: str, stage: str = "load") -> None:
        super().__init__(message)
        self.stage = stage


@dataclass(frozen=True)
class StepFailure:
    """Why a session failed: the step (``stage``) where it failed and a one-line reason."""

    stage: str
    reason: str


def describe_failure(exc: BaseException, stage: str, log: Path | str | None = None) -> StepFailure:
    """Turn an exception raised while processing a session into its failure.

    Parameters
    ----------
    exc
        The exception.
    stage
        The step that was running (a workflow rule name: ``load``, ``filter``, ...).
    log
        The step's log file, named in the reason of an exception driftqc did not raise.

    Returns
    -------
    StepFailure
        An earlier step's stage and reason for :class:`FailedSessionError`; the message of
        any other driftqc error; else ``"<ExceptionType>: <message> (see <log>)"``.

    Examples
    --------
    >>> describe_failure(ValueError("bad dshift"), "load", "logs/load/s1.log").reason
    'ValueError: bad dshift (see logs/load/s1.log)'
    """
    if isinstance(exc, FailedSessionError):
        return StepFailure(exc.stage, str(exc))
    if isinstance(exc, DriftQCError):
        return StepFailure(stage, str(exc))
    kind = type(exc).__qualname__
    if type(exc).__module__ != "builtins":
        kind = f"{type(exc).__module__}.{kind}"  # e.g. _csv.Error, not a bare "Error"
    message = one_line(str(exc))
    reason = f"{kind}: {message}" if message else kind
    if log is not None:
        reason += f" (see {log})"
    return StepFailure(stage, reason)


class SessionGuard:
    """Context manager that records any exception of a session's step instead of raising it.

    Parameters
    ----------
    stage
        The step (workflow rule) being run.
    log
        The step's log file (for the reason of an unexpected exception).
    stream
        Where the traceback is written; ``sys.stderr`` (at exit time) by default.

    Attributes
    ----------
    failure : StepFailure or None
        Set when the body raised.

    Examples
    --------
    >>> with SessionGuard("render", "logs/render/s1.log") as guard:
    ...     raise RuntimeError("disk full")
    >>> guard.failure.reason
    'RuntimeError: disk full (see logs/render/s1.log)'
    """

    def __init__(self, stage: str, log: Path | str | None = None, stream: object = None) -> None:
        self.stage = stage
        self.log = log
        self.stream = stream
        self.failure: StepFailure | None = None

    @property
    def failed(self) -> bool:
        """Whether the guarded body raised."""
        return self.failure is not None

    @property
    def reason(self) -> str | None:
        """The failure's reason, or None when the body finished."""
        return None if self.failure is None else self.failure.reason

    def __enter__(self) -> SessionGuard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        self.failure = describe_failure(exc, self.stage, self.log)
        stream = self.stream or sys.stderr
        if isinstance(exc, FailedSessionError):
            print(f"{self.stage}: {exc.stage} failed earlier: {exc}", file=stream)
        else:
            print(f"{self.stage} failed: {self.failure.reason}", file=stream)
            traceback.print_exception(exc, file=stream)
        return True


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Return ``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
