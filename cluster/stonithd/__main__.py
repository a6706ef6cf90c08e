"""``python -m cluster.stonithd``: started by cluster-mcp."""

import sys

from cluster.runtime.daemon import BusOnlyService, run_daemon

sys.exit(run_daemon("stonithd", BusOnlyService))
