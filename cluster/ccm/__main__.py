"""``python -m cluster.ccm``: the membership daemon, started by cluster-mcp."""

import sys

from cluster.ccm.service import CcmService
from cluster.runtime.daemon import run_daemon

sys.exit(run_daemon("ccm", CcmService))
