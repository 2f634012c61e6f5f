"""How the fake GitHub makes identifiers: ids, commit shas, git blob shas and the apps' RSA keys.

Decisions:
- Ids come from one counter per fake, so ids never collide across kinds; shas are 40 hex digits derived
  from a counter (stable within a test, never equal to another sha).
- Blob shas are real git blob shas (`sha1("blob <len>\\0" + content)`), so a bot may compare them with git.
"""

from __future__ import annotations

import hashlib
import itertools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["Ids", "blob_sha", "new_rsa_key"]


def blob_sha(content: bytes) -> str:
    """The git blob sha of `content`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def new_rsa_key() -> tuple[str, str]:
    """A fresh 2048-bit RSA key pair as (private PEM in PKCS#1 like GitHub's, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class Ids:
    """Monotonic ids and fake shas for one fake instance."""

    def __init__(self, start: int = 1000) -> None:
        self._ids = itertools.count(start)
        self._shas = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def next_sha(self) -> str:
        return hashlib.sha1(b"fake-commit-%d" % next(self._shas)).hexdigest()
