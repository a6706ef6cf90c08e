"""The message catalogue: every type that crosses the bus, one module per producer.

Importing a module registers its types with :mod:`cluster.bus.catalogue`;
a daemon imports only the modules whose messages it uses, and
:func:`load_all` registers the rest the first time a tag from one of them
arrives.  Events are past-tense facts, requests are imperatives, replies end
in ``Result``.  Each module also holds the typed client helpers for its
daemon, so nobody hand-builds another daemon's messages.
"""

import importlib

MODULES = ("ccm", "common", "crmd", "hbcomm", "ipfail", "mcp", "mon", "stonithd", "watchdog",
           "web")


def load_all() -> None:
    """Register every message type of every module."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
