"""cluster: a high-availability cluster stack for Linux."""

__version__ = "0.1.0"
