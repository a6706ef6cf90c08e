"""``python -m cluster.mcp``: the master control process."""

import sys

from cluster.mcp.main import main

sys.exit(main())
