"""Screenshots and traces of web evaluations, and the signed URLs reviewers open them with.

Files live under `ARTIFACTS_DIR/{validation}/{name}`. A URL is
`{PUBLIC_URL}/artifacts/{validation}/{name}?expires=<unix>&sig=<hex>` where `sig` is
HMAC-SHA256(key, "{validation}/{name}/{expires}"): unguessable without the key, refused (403) once
expired or when any part was changed. The key is ARTIFACT_SIGNING_KEY, or one derived from the webhook
secret when that is not set (so a configured App needs nothing more). A validation's files are removed
`ARTIFACT_RETENTION_DAYS` after they were last written (`remove_older_than`, the retention sweep).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import time
from collections.abc import Collection
from pathlib import Path
from urllib.parse import quote

from validators.retention import Usage, directory_last_used, expired

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")


def safe_name(text: str) -> str:
    """A file name from a label: letters, digits, dot, dash and underscore."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "artifact"
    return cleaned[:120]


class ArtifactStore:
    def __init__(self, root: str | Path, key: bytes, public_url: str = "", ttl_seconds: float = 7 * 86400) -> None:
        self.root = Path(root)
        self._key = key
        self.public_url = public_url.rstrip("/")
        self.ttl = ttl_seconds

    def path_for(self, validation: str, name: str) -> Path | None:
        if not _NAME.match(validation) or not _NAME.match(name):
            return None
        return self.root / validation / name

    def save(self, validation: str, name: str, data: bytes) -> Path:
        path = self.path_for(validation, safe_name(name))
        if path is None:
            raise ValueError(f"bad artifact name {validation}/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def remove_older_than(self, before: float, keep: Collection[str] = ()) -> int:
        """Blocking (the retention sweep): remove each validation's artifacts last written before `before`,
        except those of the validations in `keep` (still running); returns how many validations' were removed."""
        if not self.root.is_dir():
            return 0
        usages = [Usage(path.name, directory_last_used(path)) for path in self.root.iterdir()
                  if path.is_dir() and _NAME.match(path.name)]
        names = expired(usages, before, keep)
        for name in names:
            shutil.rmtree(self.root / name, ignore_errors=True)
        return len(names)

    def _sign(self, validation: str, name: str, expires: int) -> str:
        return hmac.new(self._key, f"{validation}/{name}/{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_path(self, validation: str, name: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.ttl)
        sig = self._sign(validation, name, expires)
        return f"/artifacts/{quote(validation)}/{quote(name)}?expires={expires}&sig={sig}"

    def signed_url(self, validation: str, name: str, now: float | None = None) -> str:
        return f"{self.public_url}{self.signed_path(validation, name, now)}"

    def verify(self, validation: str, name: str, expires: str, sig: str, now: float | None = None) -> bool:
        try:
            when = int(expires)
        except ValueError:
            return False
        if when < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._sign(validation, name, when), sig or "")


def derive_key(secret: str | None, explicit: str | None) -> bytes:
    if explicit:
        return explicit.encode()
    base = (secret or "codegen-bot-unconfigured").encode()
    return hmac.new(base, b"codegen-bot artifact urls", hashlib.sha256).digest()
