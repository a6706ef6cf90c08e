"""``python -m cluster.crmd``: started by cluster-mcp."""

import sys

from cluster.crmd.service import CrmdService
from cluster.runtime.daemon import run_daemon

sys.exit(run_daemon("crmd", CrmdService))
