"""Command-line options shared by the subcommands that select and shade spikes."""

from __future__ import annotations

import argparse
from typing import Any


def _decimate(value: str) -> int | str | bool:
    if value == "estimate":
        return value
    if value.lower() in ("off", "false", "none", "0"):
        return False
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: use 'estimate', 'off' or a whole number"
        ) from None


def _scaling(value: str) -> str | tuple[float, float]:
    if "," in value:
        try:
            low, high = (float(v) for v in value.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: give LOW,HIGH") from None
        return (low, high)
    return value


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """Add the filter and shading options of the seed API to a subcommand."""
    group = parser.add_argument_group("spike selection")
    group.add_argument(
        "--decimate",
        type=_decimate,
        default="estimate",
        help="'estimate' (at most ~100 000 spikes, default), 'off', or N to keep every N-th",
    )
    group.add_argument(
        "--exclude-noise",
        nargs="?",
        const=True,
        default=False,
        metavar="SOURCE",
        help="drop spikes of clusters labelled noise; optionally name the label source "
        "('group' = Phy's cluster_group.tsv, 'KSLabel')",
    )
    group.add_argument(
        "--amplitude-filter",
        choices=("percentile", "absolute"),
        default=None,
        help="keep spikes whose amplitude lies within --amplitude-range",
    )
    group.add_argument(
        "--amplitude-range",
        type=float,
        nargs=2,
        default=(),
        metavar=("LOW", "HIGH"),
        help="bounds for --amplitude-filter (inclusive)",
    )
    group = parser.add_argument_group("shading")
    group.add_argument(
        "--scaling",
        type=_scaling,
        default="linear",
        help="amplitude to grey: linear, log2, log10 or LOW,HIGH (default linear)",
    )
    group.add_argument("--color-bins", type=int, default=20, help="grey levels (default 20)")
    group.add_argument("--point-size", type=float, default=5.0, help="marker size (default 5)")
    group.add_argument(
        "--version",
        dest="ks_version",
        default=None,
        metavar="KSVERSION",
        help="Kilosort version to assume, e.g. kilosort4 (default: from the log)",
    )


def selection_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of the seed API's plot methods from parsed options."""
    return {
        "decimate": args.decimate,
        "exclude_noise": args.exclude_noise,
        "amplitude_cmap_scaling": args.scaling,
        "n_color_bins": args.color_bins,
        "point_size": args.point_size,
        "filter_amplitude_mode": args.amplitude_filter,
        "filter_amplitude_values": tuple(args.amplitude_range),
    }
