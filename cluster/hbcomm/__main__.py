"""``python -m cluster.hbcomm``: the heartbeat transport, started by cluster-mcp."""

import sys

from cluster.hbcomm.service import HbcommService
from cluster.runtime.daemon import run_daemon

sys.exit(run_daemon("hbcomm", HbcommService))
