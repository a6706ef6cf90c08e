"""The one exception type of the configuration package.

Role: every problem found in ``ha.cf``, ``haresources`` or ``authkeys`` (or in the
directory that holds them) becomes a :class:`ConfigError` that names the file and,
when it is about one line, the line number, so the text can be printed as-is by
``cluster-mcp --check`` and looks like a compiler message (one line, wrapped here)::

    /etc/ha.d/ha.cf:12: bad time value 'fast' for keepalive (use seconds, or a number
    with ms, e.g. 500ms)

Inputs: a path, an optional 1-based line number and a message written for an
administrator. Emits nothing; raised by the parsers and the loader, caught by the
daemons' entry points and the CLI.
"""

from __future__ import annotations

__all__ = ["ConfigError", "located"]


def located(path: str, line: int | None, message: str) -> str:
    """Format ``message`` the way every config error and warning is printed.

    ``"{path}:{line}: {message}"``, or ``"{path}: {message}"`` when there is no line.
    Warnings (``HaConfig.warnings``, ``AuthKeys.warnings``) use the same shape.
    """
    if line is None:
        return f"{path}: {message}"
    return f"{path}:{line}: {message}"


class ConfigError(Exception):
    """A configuration file that cannot be used, with the place it went wrong.

    Attributes:
        path: the file as the caller named it (``/etc/ha.d/ha.cf``).
        line: 1-based line number, or ``None`` for a whole-file problem
            (missing file, bad mode, no media defined ...). For ``haresources``
            it is the line where the logical (continued) line started.
        message: the text without the location, e.g. ``unknown directive 'x'``.

    ``str(err)`` is ``"{path}:{line}: {message}"`` (or ``"{path}: {message}"``).
    The exception pickles and compares by its three attributes' values in ``args``.
    """

    path: str
    line: int | None
    message: str

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return located(self.path, self.line, self.message)

    def __repr__(self) -> str:
        return f"ConfigError({self.path!r}, {self.line!r}, {self.message!r})"
