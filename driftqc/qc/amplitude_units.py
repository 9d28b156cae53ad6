"""Checking that the amplitudes of several sessions are on the same scale.

A spike's amplitude means different things depending on where it came from: Kilosort
folders without a ``gain`` in ``params.py`` give template scalings times template
peak-to-troughs in the sorter's own units (``"a.u."``), a SpikeInterface analyzer built with
``return_in_uV=True`` gives microvolts (``"µV"``). Pooling such numbers into one distribution,
or shading several drift maps with one shared grey scale, silently compares apples with
pears. This module checks the units before amplitudes are pooled: mixed units warn (or raise,
when asked to be strict), and the shared unit is returned so a figure can label it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

from driftqc.errors import OptionError
from driftqc.model import SessionInfo


class AmplitudeUnitWarning(UserWarning):
    """Amplitudes in different units are being put on one scale."""


def shared_amplitude_unit(
    infos: Sequence[SessionInfo], *, strict: bool = False, purpose: str = "a shared scale"
) -> str | None:
    """Return the amplitude unit all sessions share, or None (with a warning) if they differ.

    Parameters
    ----------
    infos
        Provenance of the sessions whose amplitudes are to be pooled.
    strict
        Raise instead of warning when the units differ.
    purpose
        What the amplitudes are pooled for, named in the message.

    Returns
    -------
    str or None
        The common unit (e.g. ``"µV"``), None when the units differ or ``infos`` is empty.

    Raises
    ------
    OptionError
        If ``strict`` is set and the sessions' units differ.

    Notes
    -----
    ``"a.u."`` (arbitrary units) of two different sorters are not really comparable either,
    but they are at least of the same kind; only differing unit names are reported.

    Examples
    --------
    >>> infos = [load_sorting(p).info for p in paths]  # doctest: +SKIP
    >>> unit = shared_amplitude_unit(infos, purpose="get_amplitudes(concatenate=True)")
    ... # doctest: +SKIP
    """
    unit, message = amplitude_unit_check(
        ((info.name, info.amplitude_unit) for info in infos), purpose=purpose
    )
    if message is None:
        return unit
    if strict:
        raise OptionError(message)
    warnings.warn(message, AmplitudeUnitWarning, stacklevel=3)
    return None


def amplitude_unit_check(
    named_units: Iterable[tuple[str, object]], *, purpose: str = "a shared scale"
) -> tuple[str | None, str | None]:
    """Check that sessions' amplitudes share one unit: the one check behind every caller.

    Parameters
    ----------
    named_units
        ``(session name, amplitude unit)`` pairs; a missing unit (None) counts as the unit
        ``"None"``, unlike any real one.
    purpose
        What the amplitudes are to be pooled for, named in the message.

    Returns
    -------
    unit : str or None
        The common unit, or None when the units differ or there are no sessions.
    message : str or None
        Why the amplitudes cannot be pooled (each unit with its sessions, in the order first
        met), or None when they can (or there is nothing to pool).

    Examples
    --------
    >>> amplitude_unit_check([("a", "µV"), ("b", "µV")])
    ('µV', None)
    >>> unit, message = amplitude_unit_check([("a", "µV"), ("b", "a.u.")], purpose="one scale")
    >>> unit, message.split(");")[0]
    (None, 'amplitudes in different units cannot share one scale (µV: a; a.u.: b')
    """
    by_unit: dict[str, list[str]] = {}
    for name, unit in named_units:
        by_unit.setdefault(str(unit), []).append(name)
    if len(by_unit) == 1:
        return next(iter(by_unit)), None
    if not by_unit:
        return None, None
    detail = "; ".join(f"{unit}: {', '.join(names)}" for unit, names in by_unit.items())
    message = (
        f"amplitudes in different units cannot share {purpose} ({detail}); Kilosort "
        "amplitudes are in arbitrary units unless params.py gives a gain, SpikeInterface "
        "analyzers are in µV when created with return_in_uV=True"
    )
    return None, message
