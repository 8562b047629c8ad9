"""``python -m platform_local`` is ``platform-local``."""

from platform_local.cli import main

raise SystemExit(main())
