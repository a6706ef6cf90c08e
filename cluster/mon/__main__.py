"""``python -m cluster.mon``: the same as the ``cluster-mon`` command."""

import sys

from cluster.mon.cli import main

sys.exit(main())
