"""The analysis stage: parse every changed file with tree-sitter, report syntax errors and findings.

Conclusion: `failure` when any changed file has a syntax error (or a committed secret); `neutral` when
there are only warnings/notices; `success` otherwise. Files in languages not enabled by
`analysis.languages`, deleted files and files that are not UTF-8 text are skipped (and counted).
Unknown names in `analysis.languages` are reported once, as a notice in the summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from validators.analysis.checks import run_checks
from validators.analysis.languages import enabled_languages, language_for_path, unknown_languages
from validators.analysis.secrets import find_secrets
from validators.analysis.syntax import syntax_errors
from validators.annotations import Annotation

MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass
class AnalysisResult:
    annotations: list[Annotation] = field(default_factory=list)
    parsed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unknown_languages: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Annotation]:
        return [a for a in self.annotations if a.level == "failure"]

    @property
    def conclusion(self) -> str:
        if self.errors:
            return "failure"
        if self.annotations:
            return "neutral"
        return "success"

    def summary_markdown(self) -> str:
        lines = [
            f"Parsed {len(self.parsed)} changed file(s); {len(self.errors)} error(s),"
            f" {len(self.annotations) - len(self.errors)} warning(s) or notice(s)."
        ]
        if self.skipped:
            lines.append(f"Not parsed ({len(self.skipped)}): deleted, binary, too large or in another language.")
        if self.unknown_languages:
            lines.append(f"Unknown languages in `analysis.languages` (ignored): {', '.join(self.unknown_languages)}.")
        shown = self.annotations[:30]
        if shown:
            lines += ["", "| file | line | level | what |", "|---|---|---|---|"]
            for a in shown:
                message = a.message.replace("|", "\\|").replace("\n", " ")[:160]
                lines.append(f"| `{a.path}` | {a.start_line} | {a.level} | {a.title}: {message} |")
            if len(self.annotations) > len(shown):
                lines.append(f"\n…and {len(self.annotations) - len(shown)} more (see the annotations).")
        return "\n".join(lines)


def analyze_files(files: Mapping[str, bytes | str | None], languages: Iterable[str]) -> AnalysisResult:
    names = list(languages)
    enabled = enabled_languages(names)
    result = AnalysisResult(unknown_languages=unknown_languages(names))
    for path in sorted(files):
        content = files[path]
        if content is None:
            result.skipped.append(path)
            continue
        source = content.encode("utf-8") if isinstance(content, str) else content
        if len(source) > MAX_FILE_BYTES or b"\0" in source[:8192]:
            result.skipped.append(path)
            continue
        result.annotations.extend(find_secrets(path, source))
        language = language_for_path(path)
        if language is None or language not in enabled:
            if language is None:
                result.skipped.append(path)
            continue
        result.parsed.append(path)
        result.annotations.extend(syntax_errors(path, source, language))
        result.annotations.extend(run_checks(path, source, language))
    return result
