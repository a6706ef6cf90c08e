"""ccm: the consensus membership daemon (reference 6.1); see membership.py."""
