"""``python -m cluster.stonithd``: started by cluster-mcp."""

import sys

from cluster.runtime.daemon import run_daemon
from cluster.stonithd.service import StonithdService

sys.exit(run_daemon("stonithd", StonithdService))
