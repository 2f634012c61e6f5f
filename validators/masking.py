"""Secrets masked as `***` in everything that leaves a validation (see docs/secrets.md).

`SecretMask.of(values)` knows each secret's *forms* (`secret_forms`): the value itself; its base64, standard
and URL-safe, with and without `=` padding; the base64 of the value inside a longer base64 text (an HTTP
Basic `user:secret` header: the characters that depend only on the secret, at each of the three byte
alignments); its URL encodings (`quote` keeping `/` and not, `quote_plus`, with upper- and lower-case
hex); its JSON-escaped form; and, for a multi-line value, each line of at least `MIN_FORM` characters.

`SecretMask.outcome` masks a stage's outcome — title, summary, text, every step's command and output tail,
annotations, details — before the pipeline hands it on (check runs, the stored report, the CLI). A log tail
is cut from a longer output, so its *start* may hold the end of a secret: text that begins with at least
`MIN_CUT` trailing characters of a form is masked too.

Limits (said in docs/secrets.md): a value transformed otherwise (split across lines, reversed, hex, other
encodings or compressions, a few characters at a time) is not recognised; nor is a secret in a screenshot
or a browser trace.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from validators.annotations import Annotation
from validators.outcome import StageOutcome, StepRecord

MASK = "***"
#: the shortest form masked (a shorter piece of an encoding would mask ordinary text)
MIN_FORM = 8
#: the shortest end of a form masked at the start of a cut log
MIN_CUT = 4
_HEX = re.compile(r"%[0-9A-F]{2}")


def _base64_forms(raw: bytes) -> set[str]:
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode("ascii")
        forms.update({whole, whole.rstrip("=")})
        for shift in range(3):  # the secret at each byte alignment inside a longer base64 text
            encoded = encode(b"\0" * shift + raw).decode("ascii")
            first = -(-8 * shift // 6)  # the first character made of the secret's bits only
            last = 8 * (shift + len(raw)) // 6  # and the one after the last
            forms.add(encoded[first:last])
    return forms


def secret_forms(value: str) -> list[str]:
    """Every form of `value` that is masked, longest first (each at least `MIN_FORM` characters)."""
    forms = {value, json.dumps(value)[1:-1], quote(value), quote(value, safe=""), quote_plus(value)}
    forms |= {_HEX.sub(lambda m: m.group().lower(), form) for form in set(forms)}
    forms |= _base64_forms(value.encode("utf-8"))
    forms |= {line.strip() for line in value.splitlines()}
    return sorted((f for f in forms if len(f) >= MIN_FORM), key=lambda f: (-len(f), f))


@dataclass(frozen=True)
class SecretMask:
    #: every form of every secret, longest first (never in a repr: it could reach a log)
    forms: tuple[str, ...] = field(default=(), repr=False)
    pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, values: Iterable[str]) -> SecretMask:
        forms = tuple(sorted({form for value in values for form in secret_forms(value)}, key=lambda f: (-len(f), f)))
        return cls(forms, re.compile("|".join(re.escape(f) for f in forms)) if forms else None)

    def text(self, text: str) -> str:
        """`text` with every form replaced by `MASK`, and a form's end at its very start (a cut log) too."""
        if self.pattern is None or not text:
            return text
        text = self.pattern.sub(MASK, text)
        for form in self.forms:
            for size in range(len(form) - 1, MIN_CUT - 1, -1):
                if text.startswith(form[-size:]):
                    return MASK + text[size:]
        return text

    def outcome(self, outcome: StageOutcome) -> StageOutcome:
        """A copy of `outcome` with every text masked (the same object when there is nothing to mask)."""
        if not self.forms:
            return outcome
        return dataclasses.replace(
            outcome, title=self.text(outcome.title), summary=self.text(outcome.summary),
            text=self.text(outcome.text) if outcome.text is not None else None,
            annotations=[self._annotation(a) for a in outcome.annotations],
            steps=[self._step(s) for s in outcome.steps], details=self._data(outcome.details),
        )

    def _annotation(self, annotation: Annotation) -> Annotation:
        return dataclasses.replace(annotation, path=self.text(annotation.path), title=self.text(annotation.title),
                                   message=self.text(annotation.message))

    def _step(self, step: StepRecord) -> StepRecord:
        return dataclasses.replace(step, command=self.text(step.command), output_tail=self.text(step.output_tail))

    def _data(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {self._data(k) if isinstance(k, str) else k: self._data(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return type(data)(self._data(item) for item in data)
        return data

