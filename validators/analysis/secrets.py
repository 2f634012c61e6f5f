"""Credentials committed in changed files: well-known token formats, found by pattern.

Decisions:

- The whole text of every changed text file is scanned — parsed or not, enabled language or not. That is a
  superset of "string literals and comments": it also covers YAML plain scalars, `.env` and `.ini` files,
  and regions tree-sitter could not parse. These formats are specific enough (fixed prefixes, fixed or long
  lengths, boundaries on both sides) that a match outside a literal does not happen in practice.
- Formats: GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), AWS access key ids
  (`AKIA…`, and the temporary `ASIA…`), Slack tokens (`xoxb-`, `xoxa-`, `xoxp-`, `xoxr-`, `xoxs-`), PEM/
  OpenSSH/PGP private key blocks (a `-----BEGIN … PRIVATE KEY-----` header followed by key material, so code
  that merely mentions the header is not flagged), Stripe live keys (`sk_live_`, and restricted `rk_live_`),
  Google API keys (`AIza…`).
- Placeholders are not secrets: a match whose random part has fewer than 6 distinct characters
  (`ghp_xxxx…`) or contains `EXAMPLE` (AWS's documented example keys) is skipped.
- Level `warning`: a leaked credential must be revoked, which failing the check does not do.
- Never echo the secret (the architecture rule: nothing secret goes into a check run): the message shows
  the format's prefix and at most 4 more characters, then "…", and the length. `redact_secrets` applies
  the same masking to any other text taken from a file (syntax-error snippets).
- At most `MAX_PER_FILE` annotations per file, then one notice saying how many more were found.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from validators.annotations import Annotation

MAX_PER_FILE = 20
_SHOWN_CHARS = 4
_MIN_DISTINCT = 6


@dataclass(frozen=True)
class SecretFormat:
    kind: str
    #: group "prefix" is the fixed part that may be shown; group "body" the random part
    pattern: re.Pattern[str]


_KEY_MATERIAL = r"(?:\s|\\[nr])*(?:[A-Za-z-]+:[^\n\\]*(?:\s|\\[nr])+)*(?P<body>[A-Za-z0-9+/=]{32,})"

FORMATS: tuple[SecretFormat, ...] = (
    SecretFormat(
        "GitHub token",
        re.compile(r"(?<![A-Za-z0-9_])(?P<prefix>gh[pousr]_)(?P<body>[A-Za-z0-9]{36,251})(?![A-Za-z0-9_])"),
    ),
    SecretFormat(
        "GitHub fine-grained token",
        re.compile(r"(?<![A-Za-z0-9_])(?P<prefix>github_pat_)(?P<body>[A-Za-z0-9_]{40,})(?![A-Za-z0-9_])"),
    ),
    SecretFormat(
        "AWS access key id",
        re.compile(r"(?<![A-Za-z0-9])(?P<prefix>AKIA|ASIA)(?P<body>[A-Z0-9]{16})(?![A-Za-z0-9])"),
    ),
    SecretFormat(
        "Slack token",
        re.compile(r"(?<![A-Za-z0-9])(?P<prefix>xox[baprs]-)(?P<body>[A-Za-z0-9-]{10,})(?![A-Za-z0-9-])"),
    ),
    SecretFormat(
        "private key",
        re.compile(r"(?P<prefix>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)" + _KEY_MATERIAL),
    ),
    SecretFormat(
        "Stripe live key",
        re.compile(r"(?<![A-Za-z0-9_])(?P<prefix>[sr]k_live_)(?P<body>[A-Za-z0-9]{20,})(?![A-Za-z0-9_])"),
    ),
    SecretFormat(
        "Google API key",
        re.compile(r"(?<![A-Za-z0-9_-])(?P<prefix>AIza)(?P<body>[A-Za-z0-9_-]{35})(?![A-Za-z0-9_-])"),
    ),
)


@dataclass(frozen=True)
class SecretMatch:
    kind: str
    start: int
    end: int
    #: what may be shown: the prefix and a few characters, then "…"
    shown: str
    length: int


def find_secret_matches(text: str) -> list[SecretMatch]:
    """Every non-placeholder secret in `text`, in order of position."""
    found: list[SecretMatch] = []
    for fmt in FORMATS:
        for match in fmt.pattern.finditer(text):
            body = match.group("body")
            if _is_placeholder(body):
                continue
            prefix = match.group("prefix")
            shown = prefix if fmt.kind == "private key" else prefix + body[:_SHOWN_CHARS] + "…"
            found.append(SecretMatch(fmt.kind, match.start(), match.end(), shown, match.end() - match.start()))
    found.sort(key=lambda m: (m.start, m.end))
    return found


def redact_secrets(text: str) -> str:
    """`text` with each secret replaced by its shown prefix (for snippets of a file put in a message)."""
    matches = find_secret_matches(text)
    if not matches:
        return text
    out: list[str] = []
    cursor = 0
    for match in matches:
        if match.start < cursor:  # overlapping formats: the first one already masked this
            continue
        out.append(text[cursor : match.start])
        out.append(match.shown if match.shown.endswith("…") else match.shown + "…")
        cursor = match.end
    out.append(text[cursor:])
    return "".join(out)


def find_secrets(path: str, source: bytes | str) -> list[Annotation]:
    """Warning annotations for the secrets in one file (capped at `MAX_PER_FILE`, then one notice)."""
    text = source if isinstance(source, str) else source.decode("utf-8", "replace")
    matches = find_secret_matches(text)
    if not matches:
        return []
    line_starts = _line_starts(text)
    annotations: list[Annotation] = []
    for match in matches[:MAX_PER_FILE]:
        start_line, start_col = _position(line_starts, match.start)
        end_line, end_col = _position(line_starts, match.end - 1)
        annotations.append(
            Annotation(
                path=path,
                start_line=start_line,
                end_line=end_line,
                level="warning",
                title=f"Possible secret: {match.kind}",
                message=(
                    f"This looks like a {match.kind} (`{match.shown}`, {match.length} characters). "
                    "If it is real, revoke it now: removing it from the branch does not remove it from the "
                    "history. Load credentials from the environment or a secret store instead."
                ),
                start_column=start_col,
                end_column=end_col,
            )
        )
    if len(matches) > MAX_PER_FILE:
        more = len(matches) - MAX_PER_FILE
        line, _ = _position(line_starts, matches[MAX_PER_FILE].start)
        annotations.append(
            Annotation(path, line, line, "notice", "More possible secrets",
                       f"{more} more possible secret(s) in this file are not annotated.")
        )
    return annotations


def _is_placeholder(body: str) -> bool:
    return len(set(body)) < _MIN_DISTINCT or "EXAMPLE" in body


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _position(line_starts: list[int], offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    index = bisect.bisect_right(line_starts, offset) - 1
    return index + 1, offset - line_starts[index] + 1
