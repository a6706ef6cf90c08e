"""What every daemon process shares: paths, arguments and the daemon shell."""
