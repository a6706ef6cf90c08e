"""stonithd, the fencing daemon, and the device drivers the ``stonith`` CLI shares.

Start at :mod:`cluster.stonithd.service` (the daemon) or
:mod:`cluster.stonithd.registry` (device types); :mod:`cluster.stonithd.fencing`
holds the request/retry rules.
"""
