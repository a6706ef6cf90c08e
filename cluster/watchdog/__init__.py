"""The watchdog keeper: feeds the watchdog device while the master control process answers.

:mod:`cluster.watchdog.keeper` holds the rules, :mod:`cluster.watchdog.device`
the device, :mod:`cluster.watchdog.service` the daemon.
"""
