"""``python -m platform_replay``: see :mod:`platform_replay.cli`."""

from __future__ import annotations

import sys

from platform_replay.cli import main

sys.exit(main())
