"""``python -m cluster.crmd.agents TOKEN ACTION``: run one resource operation."""

import sys

from cluster.crmd.agents.cli import main

sys.exit(main())
