"""``python -m cluster.watchdog``: the watchdog keeper, started by cluster-mcp."""

import sys

from cluster.runtime.daemon import run_daemon
from cluster.watchdog.service import WatchdogService

sys.exit(run_daemon("watchdog", WatchdogService))
