"""One finding on one range of a file, shaped for GitHub's check-run annotations.

Decisions:

- Lines and columns are 1-based, as GitHub counts them; columns count characters (not bytes).
- `to_github()` sends `start_column`/`end_column` only when the annotation sits on one line (GitHub rejects
  columns on a multi-line range); when only `start_column` is known, `end_column` repeats it.
- The limits of the API are enforced here, once, so no caller can build a request GitHub refuses: the title
  is cut to 255 characters, the message to 64 KB of UTF-8, each cut marked with "…".
- The dataclass is plain data (frozen, JSON-friendly through `dataclasses.asdict`): the validation report
  stores it and the auto-fix context reads `path`, `start_line`, `level`, `title` and `message` from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["notice", "warning", "failure"]

LEVELS: tuple[Level, ...] = ("notice", "warning", "failure")
#: GitHub's limits on one annotation and on one request
MAX_TITLE_CHARS = 255
MAX_MESSAGE_BYTES = 64 * 1024
MAX_PER_REQUEST = 50
_ELLIPSIS = "…"


@dataclass(frozen=True)
class Annotation:
    path: str
    start_line: int
    end_line: int
    level: Level
    title: str
    message: str
    start_column: int | None = None
    end_column: int | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"annotation level must be one of {LEVELS}, not {self.level!r}")
        if self.start_line < 1 or self.end_line < self.start_line:
            raise ValueError(f"bad line range {self.start_line}..{self.end_line} (1-based, start <= end)")
        for column in (self.start_column, self.end_column):
            if column is not None and column < 1:
                raise ValueError(f"columns are 1-based, got {column}")

    @property
    def single_line(self) -> bool:
        return self.start_line == self.end_line

    def to_github(self) -> dict[str, Any]:
        """The annotation object of the check-runs API (`output.annotations[]`)."""
        body: dict[str, Any] = {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "annotation_level": self.level,
            "title": _cut_chars(self.title, MAX_TITLE_CHARS),
            "message": _cut_utf8(self.message, MAX_MESSAGE_BYTES),
        }
        if self.single_line and self.start_column is not None:
            end = self.end_column if self.end_column is not None else self.start_column
            body["start_column"] = self.start_column
            body["end_column"] = max(end, self.start_column)
        return body


def batched(annotations: Iterable[Annotation], size: int = MAX_PER_REQUEST) -> Iterator[list[Annotation]]:
    """Successive lists of at most `size` annotations (GitHub takes at most 50 per request), order kept."""
    if not 1 <= size <= MAX_PER_REQUEST:
        raise ValueError(f"batch size must be between 1 and {MAX_PER_REQUEST}, got {size}")
    batch: list[Annotation] = []
    for annotation in annotations:
        batch.append(annotation)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _cut_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(_ELLIPSIS.encode("utf-8"))
    # decoding with "ignore" drops a multi-byte character split by the cut
    return data[:room].decode("utf-8", "ignore") + _ELLIPSIS
