"""The dashboard's TLS: the configured certificate, or a self-signed one made once.

Without ``cert=``/``key=`` on the ``web`` line, the first start writes an EC
P-256 key (mode 0600) and a ten-year self-signed certificate for the node's
name and listen address into ``<state-dir>/web/``; later starts reuse them, so
a browser's exception for the node stays valid.  Made with the
``cryptography`` library, never by running openssl.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cluster.config.web import WebListen

log = logging.getLogger(__name__)

_DAYS = 3650


def self_signed(directory: Path, node: str, host: str) -> tuple[Path, Path]:
    """The pair in `directory`, made now if absent; returns (cert, key) paths."""
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cluster-web")])
    alt: list[x509.GeneralName] = [x509.DNSName(node)]
    address = ipaddress.ip_address(host)
    if not address.is_unspecified:
        alt.append(x509.IPAddress(address))
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    log.info("made a self-signed certificate for %s in %s (sha256 %s)", node, cert_path,
             cert.fingerprint(hashes.SHA256()).hex(":"))
    return cert_path, key_path


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write with `mode` from the first byte on (a key is never readable by others)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def server_context(listen: WebListen, state_dir: Path, node: str) -> ssl.SSLContext | None:
    """The SSL context to serve with, or None for plain HTTP (loopback only)."""
    if not listen.tls:
        return None
    if listen.cert is not None and listen.key is not None:
        cert, key = Path(listen.cert), Path(listen.key)
    else:
        cert, key = self_signed(state_dir / "web", node, listen.host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.fspath(cert), os.fspath(key))
    return context
