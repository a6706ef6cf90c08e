"""`python -m cluster.lab sweep`: remove leftovers of crashed lab runs."""

from __future__ import annotations

import sys

from cluster.lab.cleanup import main

sys.exit(main())
