"""Benchmarks of the stack in lab clusters; `python3 -m bench` runs them all (see __main__.py).

One module per measurement: failover (power-off and graceful handover as a
client sees it), false_failovers, idle (whole-node CPU and memory),
membership (join/leave convergence), detection (hbcomm's dead-node
detection, its own command).  common, stats and report are shared.
"""
