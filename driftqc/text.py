r"""Text for figure titles and captions that matplotlib and Qt can always draw.

A file name that is not valid UTF-8 reaches Python as a string with *surrogate escapes*
(``os.fsdecode(b"ses-\xff")`` is ``"ses-\udcff"``). Such a string cannot be encoded, so
matplotlib's font code raises a ``TypeError`` when it lays out a title holding one, and Qt
cannot show it either. :func:`printable` replaces every lone surrogate with U+FFFD (the
replacement character ``�``) and leaves everything else alone; every title, caption and
label built from session names, paths or user text goes through it before drawing, and the
readers use it for the session names they derive from folder names.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def printable(text: object) -> str:
    r"""Return ``str(text)`` with every surrogate escape replaced by U+FFFD.

    Parameters
    ----------
    text
        A title, caption or name (anything ``str()`` accepts).

    Returns
    -------
    str
        The text, encodable as UTF-8 and drawable by matplotlib and Qt.

    Examples
    --------
    >>> printable("ses-\udcff/kilosort4")
    'ses-�/kilosort4'
    >>> printable("Drift map: sub-01")
    'Drift map: sub-01'
    """
    text = str(text)
    return _SURROGATE.sub(REPLACEMENT, text) if not text.isascii() else text
