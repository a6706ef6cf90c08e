"""The message catalogue: every type that crosses the bus, one module per producer.

Importing this package registers all of them with :mod:`cluster.bus.catalogue`.
Events are past-tense facts, requests are imperatives, replies end in
``Result``.  Each module also holds the typed client helpers for its daemon,
so nobody hand-builds another daemon's messages.
"""

from cluster.bus.messages import (  # noqa: F401
    ccm,
    common,
    crmd,
    hbcomm,
    ipfail,
    mcp,
    mon,
    stonithd,
    watchdog,
    web,
)
