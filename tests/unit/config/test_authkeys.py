"""authkeys parsing: methods, active key, mode check, errors, warnings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.config.authkeys import AuthKey, parse_authkeys
from cluster.config.errors import ConfigError

PATH = "/etc/ha.d/authkeys"


def error(text: str, mode: int = 0o600) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_authkeys(text, PATH, mode)
    return info.value


def test_rotation_file() -> None:
    text = "# keys\nauth 1\n1 sha1 SecretKey   # current\n2 md5 Other\n3 crc\n 15 SHA256 x#y\n"
    keys = parse_authkeys(text, PATH, 0o100600)
    assert keys.active == 1 and keys.path == PATH
    assert keys.active_key == AuthKey(1, "sha1", b"SecretKey")
    assert dict(keys.keys) == {
        1: AuthKey(1, "sha1", b"SecretKey"),
        2: AuthKey(2, "md5", b"Other"),
        3: AuthKey(3, "crc", b""),
        15: AuthKey(15, "sha256", b"x#y"),
    }
    assert keys.warnings == ()
    assert "SecretKey" not in repr(keys)


def test_auth_may_follow_the_keys_and_secrets_keep_their_bytes() -> None:
    keys = parse_authkeys("0 sha1 k\xe9y\nauth 0\n", PATH, 0o400)
    assert keys.active_key.secret == "k\xe9y".encode()
    raw = b"caf\xff".decode("utf-8", "surrogateescape")
    assert parse_authkeys(f"auth 1\n1 md5 {raw}", PATH, 0o600).active_key.secret == b"caf\xff"


def test_crc_active_key_warns() -> None:
    keys = parse_authkeys("\nauth 3\n3 crc\n", PATH, 0o600)
    assert keys.warnings == (
        f"{PATH}:2: the active key 3 uses crc, which authenticates nothing: anyone on the "
        "heartbeat networks can forge cluster messages (use sha256 or sha1)",
    )


def test_sha256_active_key_warns_about_heartbeat_peers() -> None:
    (warning,) = parse_authkeys("auth 1\n1 sha256 s\n", PATH, 0o600).warnings
    assert warning.startswith(f"{PATH}:1: the active key 1 uses sha256")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o100660])
def test_mode_must_be_600(mode: int) -> None:
    err = error("auth 1\n1 sha1 s\n", mode)
    assert err.line is None
    assert str(err) == (
        f"{PATH}: mode {mode & 0o7777:04o} is too open; authkeys holds the cluster's secret and "
        f"must be mode 600 (chmod 600 {PATH})"
    )


def test_mode_644_message_exactly() -> None:
    assert error("", 0o644).message == (
        "mode 0644 is too open; authkeys holds the cluster's secret and must be mode 600 "
        "(chmod 600 /etc/ha.d/authkeys)"
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("auth 2\n1 sha1 s\n", 1, "auth 2 selects key 2, but there is no key 2 (keys defined: 1)"),
        ("# k\n\nauth 2\n", 3, "auth 2 selects key 2, but there is no key 2 (keys defined: none)"),
        ("auth 1\n1 sha1 s\nauth 1\n", 3, "a second auth line (the first is at line 1)"),
        ("auth\n", 1, "expected 'auth N', the index of the key that signs outgoing messages"),
        ("authx 1\n", 1, "expected 'auth N', the index of the key that signs outgoing messages"),
        ("auth 1 2\n", 1, "expected 'auth N', the index of the key that signs outgoing messages"),
        ("auth 16\n", 1, "bad key index '16' (must be from 0 to 15)"),
        ("auth 1\n1 sha512 s\n", 2,
         "unknown method 'sha512' for key 1 (use sha256, sha1, md5 or crc)"),
        ("auth 1\n1 sha1\n", 2, "key 1: sha1 needs a secret (1 sha1 <secret>)"),
        ("auth 1\n1 crc s\n", 2, "key 1: crc takes no secret"),
        ("auth 1\n1 sha1 two words\n", 2, "key 1: the secret must be one word without spaces "
         "(Heartbeat would silently use only the first word)"),
        ("auth 1\n1 sha1 a\n1 md5 b\n", 3, "key 1 is already defined at line 2"),
        ("auth 1\n1\n", 2, "expected 'N method [secret]', e.g. 1 sha256 LongRandomSecret"),
        ("auth 1\nx sha1 s\n", 2, "bad key index 'x' (use a whole number from 0 to 15)"),
    ],
)
def test_errors_name_path_and_line(text: str, line: int, message: str) -> None:
    err = error(text)
    assert (err.path, err.line, err.message) == (PATH, line, message)


def test_missing_auth_line() -> None:
    err = error("1 sha1 s\n")
    assert str(err) == (
        f"{PATH}: no 'auth N' line saying which key signs outgoing messages (e.g. auth 1)"
    )


def test_crc_with_trailing_comment_is_fine() -> None:
    assert parse_authkeys("auth 3\n3 crc # testing only\n", PATH, 0o600).active_key.secret == b""


_WORDS = st.sampled_from(
    ["auth", "a", "1", "16", "0", "sha1", "md5", "crc", "sha256", "s", "#", " ", "\n", "\t",
     "-1", "", "\x00", "é"]
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=300)
@given(
    st.one_of(st.text(max_size=120), st.lists(_WORDS, max_size=30).map("".join)),
    st.integers(min_value=0, max_value=0o7777),
)
def test_random_text_raises_only_config_error(text: str, mode: int) -> None:
    try:
        keys = parse_authkeys(text, PATH, mode)
    except ConfigError as err:
        assert err.path == PATH
    else:
        assert mode & 0o077 == 0 and keys.active in keys.keys
