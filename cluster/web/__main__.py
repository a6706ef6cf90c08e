"""``python -m cluster.web``: the dashboard, started by cluster-mcp for a ``web`` line."""

import sys

from cluster.web.service import main

sys.exit(main())
