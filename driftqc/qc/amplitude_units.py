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
from collections.abc import Sequence

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
    by_unit: dict[str, list[str]] = {}
    for info in infos:
        by_unit.setdefault(info.amplitude_unit, []).append(info.name)
    if len(by_unit) == 1:
        return next(iter(by_unit))
    if not by_unit:
        return None
    detail = "; ".join(f"{unit}: {', '.join(names)}" for unit, names in by_unit.items())
    message = (
        f"amplitudes in different units cannot share {purpose} ({detail}); Kilosort "
        "amplitudes are in arbitrary units unless params.py gives a gain, SpikeInterface "
        "analyzers are in µV when created with return_in_uV=True"
    )
    if strict:
        raise OptionError(message)
    warnings.warn(message, AmplitudeUnitWarning, stacklevel=3)
    return None
