"""What kind of answer a finished agent run gave (a pure function; the README explains the rule).

- **PR**: the run lists at least one pull request (`github_pull_requests`). Nothing else matters.
- **PLAN**: the agent proposes a plan and waits for a go-ahead. Recognised when the result has
    1. a plan marker: a heading or bold label whose text contains "plan" (`## Plan`, `**Proposed plan**`,
       `Implementation plan:`), or at least two numbered/bulleted steps after a sentence announcing what
       the agent "will" / "would" / "plans to" do; **and**
    2. a request for approval: a question or phrase asking to confirm, approve, proceed or go ahead
       ("Shall I proceed?", "Please confirm", "Let me know if you'd like me to proceed").
  Both are needed: a finished summary that happens to contain steps is not a plan, and a question
  without a plan is a regular answer.
- **REGULAR**: anything else (an answer, a summary, a question).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from typing import Any


class AnswerKind(Enum):
    PR = "pr"
    PLAN = "plan"
    REGULAR = "regular"


_PLAN_HEADING = re.compile(
    r"^\s{0,3}(?:#{1,6}\s*[^\n]*\bplan\b[^\n]*|\*\*[^*\n]*\bplan\b[^*\n]*\*\*:?|[A-Z][^\n]{0,40}\bplan\s*:)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_INTENT = re.compile(r"\b(?:I|we)\s+(?:will|would|'ll|plan to|propose to|intend to)\b", re.IGNORECASE)
_STEP = re.compile(r"^\s{0,3}(?:\d+[.)]|[-*])\s+\S", re.MULTILINE)
_APPROVAL = re.compile(
    r"(?:shall|should|may|can)\s+I\s+(?:proceed|go ahead|continue|start|implement)"
    r"|(?:please|kindly)\s+(?:confirm|approve|review)"
    r"|(?:confirm|approve)\s+(?:the|this|my)\s+plan"
    r"|(?:let me know|tell me)\s+(?:if|whether|when)\s+[^.\n]{0,60}(?:proceed|go ahead|implement|continue)"
    r"|(?:do you want|would you like)\s+me\s+to\s+(?:proceed|go ahead|implement|continue|start)"
    r"|awaiting\s+(?:your\s+)?(?:confirmation|approval)"
    r"|before\s+I\s+(?:proceed|start|implement)",
    re.IGNORECASE,
)


def _has_plan(text: str) -> bool:
    if _PLAN_HEADING.search(text):
        return True
    intent = _INTENT.search(text)
    return intent is not None and len(_STEP.findall(text[intent.start():])) >= 2


def classify_answer(result: str | None, prs: Sequence[Any] | None) -> AnswerKind:
    if prs:
        return AnswerKind.PR
    text = result or ""
    if _has_plan(text) and _APPROVAL.search(text):
        return AnswerKind.PLAN
    return AnswerKind.REGULAR


def extract_plan(result: str | None) -> str:
    """The plan part of a PLAN answer: from the plan marker (or the intent sentence) on."""
    text = (result or "").strip()
    match = _PLAN_HEADING.search(text) or _INTENT.search(text)
    if match is None:
        return text
    start = text.rfind("\n", 0, match.start()) + 1
    return text[start:].strip()
