"""The spike and selection caches; moved to :mod:`driftqc.pipeline.cache` (re-exported here)."""

from driftqc.pipeline.cache import (
    CACHE_FORMAT,
    READABLE_FORMATS,
    FailedSessionError,
    cache_selection,
    cache_sorting,
    load_kept_templates,
    load_motion,
    load_selection,
    load_spike_cache,
    load_template_shanks,
    read_status,
    save_failure,
    save_selection,
    save_spike_cache,
    template_shanks,
)

__all__ = [
    "CACHE_FORMAT",
    "READABLE_FORMATS",
    "FailedSessionError",
    "cache_selection",
    "cache_sorting",
    "load_kept_templates",
    "load_motion",
    "load_selection",
    "load_spike_cache",
    "load_template_shanks",
    "read_status",
    "save_failure",
    "save_selection",
    "save_spike_cache",
    "template_shanks",
]
