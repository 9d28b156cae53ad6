"""Exceptions that driftqc raises for bad input.

Every error a user can cause with their data or their options is one of these, with a message
that names the file or option and says what is wrong, so that a batch run can report it and
move on to the next session.
"""

from __future__ import annotations


class DriftQCError(Exception):
    """Base class of every error driftqc raises on purpose."""


class SortingFormatError(DriftQCError, ValueError):
    """A sorter output folder is missing a file, or a file has the wrong content or shape."""


class OptionError(DriftQCError, ValueError):
    """An option passed to a driftqc function is invalid."""


class EmptySelectionError(DriftQCError, ValueError):
    """No spikes are left after filtering."""


class MissingExtraError(DriftQCError, ImportError):
    """An optional dependency (a pip extra) is needed but not installed."""

    def __init__(self, extra: str, package: str, what: str) -> None:
        super().__init__(
            f"{what} needs the optional dependency {package!r}, which is not installed. "
            f"Install it with: pip install 'driftqc[{extra}]'"
        )
        self.extra = extra
