"""cluster-web: the dashboard (see cluster.web.service and cluster.web.app)."""
