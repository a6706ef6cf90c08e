"""ConfigError: attributes, text, pickling."""

from __future__ import annotations

import pickle

from cluster.config.errors import ConfigError, located


def test_str_with_line() -> None:
    err = ConfigError("/etc/ha.d/ha.cf", 12, "unknown directive 'x'")
    assert str(err) == "/etc/ha.d/ha.cf:12: unknown directive 'x'"
    assert (err.path, err.line, err.message) == ("/etc/ha.d/ha.cf", 12, "unknown directive 'x'")


def test_str_without_line() -> None:
    err = ConfigError("/etc/ha.d/authkeys", None, "file not found")
    assert str(err) == "/etc/ha.d/authkeys: file not found"
    assert err.line is None


def test_pickles_with_its_fields() -> None:
    err = pickle.loads(pickle.dumps(ConfigError("a", 3, "b")))
    assert (err.path, err.line, err.message, str(err)) == ("a", 3, "b", "a:3: b")


def test_repr_and_located() -> None:
    assert repr(ConfigError("a", None, "b")) == "ConfigError('a', None, 'b')"
    assert located("f", 1, "x") == "f:1: x"
    assert located("f", None, "x") == "f: x"
