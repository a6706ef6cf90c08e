"""``python -m cluster.ipfail``: started by cluster-mcp for ``respawn ... ipfail`` lines."""

import sys

from cluster.ipfail.service import IpfailService
from cluster.runtime.daemon import run_daemon

sys.exit(run_daemon("ipfail", IpfailService))
