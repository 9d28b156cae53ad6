"""``python -m driftqc``: the driftqc command line."""

import sys

from driftqc.cli import main

sys.exit(main())
