"""Which language a changed file is in, which languages a repository enabled, and their tree-sitter grammars.

Decisions:

- The names are those of the repository config (`analysis.languages`): python, javascript, typescript, tsx,
  go, rust, json, yaml. Names are matched case-insensitively; unknown names are ignored here (reported by
  `unknown_languages`, so the summary can say so) — checking the config file is the config loader's job.
- Enabling `typescript` also enables `tsx`: nobody who lists TypeScript means to leave its JSX files out,
  and the two grammars are one language to a user. `tsx` alone enables only `.tsx` files.
- Grammars come from the per-language wheels (tree-sitter-python, ...), never from a download at run time;
  each `tree_sitter.Language` is built once per process (`load_language` is cached and thread-safe: the
  objects are immutable once built).
- Files that look like JSON but are read as "JSON with comments and trailing commas" by their tools
  (tsconfig*.json, jsconfig*.json, anything under .vscode/, devcontainer.json) are not JSON here: a
  trailing comma there is legal and would be a false syntax error. They get no language (secrets are still
  scanned).
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Iterable

import tree_sitter
import tree_sitter_go
import tree_sitter_javascript
import tree_sitter_json
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript
import tree_sitter_yaml

LANGUAGES: tuple[str, ...] = ("python", "javascript", "typescript", "tsx", "go", "rust", "json", "yaml")

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".json": "json",
    ".yml": "yaml",
    ".yaml": "yaml",
}

#: a config name that switches on more than itself
_IMPLIES: dict[str, tuple[str, ...]] = {"typescript": ("tsx",)}

_GRAMMARS: dict[str, Callable[[], object]] = {
    "python": tree_sitter_python.language,
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
    "go": tree_sitter_go.language,
    "rust": tree_sitter_rust.language,
    "json": tree_sitter_json.language,
    "yaml": tree_sitter_yaml.language,
}

_JSONC_NAME = re.compile(r"^(?:[tj]sconfig(?:\.[^/]*)?\.json|\.?devcontainer\.json)$")


def language_for_path(path: str) -> str | None:
    """The language of a file by its extension (case-insensitive), or None when it is not one we parse."""
    name = posixpath.basename(path).lower()
    _, ext = posixpath.splitext(name)
    language = EXTENSIONS.get(ext)
    if language == "json" and (_JSONC_NAME.match(name) or "/.vscode/" in f"/{path.lower()}"):
        return None
    return language


def enabled_languages(names: Iterable[str]) -> frozenset[str]:
    """The languages to parse for a config list: known names, plus what they imply (typescript → tsx)."""
    enabled: set[str] = set()
    for raw in names:
        name = raw.strip().lower()
        if name in _GRAMMARS:
            enabled.add(name)
            enabled.update(_IMPLIES.get(name, ()))
    return frozenset(enabled)


def unknown_languages(names: Iterable[str]) -> list[str]:
    """The names of a config list that are not languages we know (in their original order and spelling)."""
    return [raw for raw in names if raw.strip().lower() not in _GRAMMARS]


@functools.cache
def load_language(name: str) -> tree_sitter.Language:
    """The tree-sitter grammar of a language, built from its wheel once per process."""
    try:
        factory = _GRAMMARS[name]
    except KeyError:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(LANGUAGES)}") from None
    return tree_sitter.Language(factory())
