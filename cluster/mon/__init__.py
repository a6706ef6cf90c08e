"""cluster-mon: Mon-style service monitoring and alerts, as its own daemon.

``cluster-mon -f mon.cf`` reads a configuration in the shape Mon users know
(hostgroups, watches, services, periods, alerts) and runs each service's
monitor every ``interval``: Mon's own scripts (``/usr/lib/mon/mon.d``) with
Mon's calling convention, or built-ins (ICMP echo on one socket, TCP
connect, HTTP(S) GET, the cluster's own view from crmd). Failures and
recoveries trigger alerts, Mon's scripts (``/usr/lib/mon/alert.d``) or the
built-in SMTP mail, with Mon's suppression rules (``alertevery``,
``alertafter``, ``numalerts``, periods). Status, history and downtimes are
queryable with ``cluster-mon status`` or the ``GetMonStatus`` bus request.

Sans-I/O cores: ``config.py``/``cfblocks.py`` (parser into ``specs.py``),
``periods.py``, ``schedule.py``, ``alerts.py``, ``outbox.py``,
``history.py``, ``icmp.py``, ``clusterview.py``, ``outcome.py``. Shells:
``pinger.py`` (ICMP socket), ``processes.py`` (child processes),
``mailer.py`` (SMTP from worker threads), ``runs.py``, ``service.py`` (the
daemon), ``status.py`` and ``cli.py``. Programs the daemon runs:
``probes.py`` (tcp/http/https monitors); ``mail.py`` is also a Mon alert.

Bus: ``GetMonStatus`` on ``<run-dir>/mon.ctl`` (see
``cluster/bus/messages/mon.py`` and its ``get_mon_status`` helper) and
``MonServiceChanged`` events on ``mon.pub``.

The monitor is read-only towards the cluster: it never starts or stops
resources (crmd's executor runs the recurring monitor operations that
drive failover); it watches and tells people.
"""
