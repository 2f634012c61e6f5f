"""Keep secrets out of text that leaves the bot (logs, comments, check runs).

`register_secret` is called for every secret the process learns (settings at start-up, each installation
token when it is issued); `redact` replaces them, and anything shaped like a GitHub token or a PEM private
key, with `[redacted]`.
"""

from __future__ import annotations

import re
import threading

REDACTED = "[redacted]"
_MIN_SECRET = 8
#: GitHub token formats (classic, fine-grained, app installation and user tokens) and PEM private keys
_PATTERNS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
)

_lock = threading.Lock()
_secrets: set[str] = set()
_combined: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember a secret so `redact` masks it (and its `\\n`-escaped form) from now on."""
    global _combined
    if not value or len(value) < _MIN_SECRET:
        return
    with _lock:
        before = len(_secrets)
        _secrets.add(value)
        escaped = value.replace("\n", "\\n")
        if escaped != value:
            _secrets.add(escaped)
        if len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)
            _combined = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    combined = _combined
    if combined is not None:
        text = combined.sub(REDACTED, text)
    return _PATTERNS.sub(REDACTED, text)


def is_registered(value: str) -> bool:
    """True when `value` is one of the secrets `redact` masks by value (not only by shape)."""
    with _lock:
        return value in _secrets
