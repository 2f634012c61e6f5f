"""The layout's rules, checked by walking every module's imports (issue 7 and 11).

- the engine (`bot/`) never imports the features (`handlers/`) nor the composition root (`entrypoints/`);
- `validators/` runs without GitHub: it imports neither `bot/` nor `handlers/` nor `entrypoints/`;
- `config/` is a leaf: it imports none of the project's other packages;
- features never import the composition root; only `entrypoints/` imports both `bot/` and `handlers/`;
- no module is over 400 lines, no function over 60.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "validators", "config", "entrypoints")
FORBIDDEN = {
    "bot": {"handlers", "entrypoints"},
    "validators": {"bot", "handlers", "entrypoints"},
    "config": {"bot", "handlers", "validators", "entrypoints"},
    "handlers": {"entrypoints"},
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules(*roots: str) -> Iterator[Path]:
    for root in roots:
        yield from sorted((ROOT / root).rglob("*.py"))


def imported_packages(source: str) -> set[str]:
    """The top-level packages a module imports, at any depth (TYPE_CHECKING and function bodies included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def violations(package: str, root: Path = ROOT) -> list[str]:
    banned = FORBIDDEN[package]
    return [
        f"{path.relative_to(root)} imports {name}"
        for path in sorted((root / package).rglob("*.py"))
        for name in sorted(imported_packages(path.read_text()) & banned)
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_the_right_way(package: str) -> None:
    assert violations(package) == []


def test_the_check_fails_when_the_engine_imports_a_feature(tmp_path: Path) -> None:
    (tmp_path / "bot" / "dispatch").mkdir(parents=True)
    (tmp_path / "bot" / "dispatch" / "sneaky.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from handlers.context import Services\n"
    )
    (tmp_path / "bot" / "lazy.py").write_text("def f():\n    import handlers.merge.service\n")
    assert violations("bot", tmp_path) == ["bot/dispatch/sneaky.py imports handlers", "bot/lazy.py imports handlers"]


def test_the_composition_root_is_the_one_entry_point_that_knows_the_features() -> None:
    knowing = [
        path.name for path in modules("entrypoints") if "handlers" in imported_packages(path.read_text())
    ]
    assert knowing == ["app.py"]


def oversized(path: Path) -> list[str]:
    source = path.read_text()
    found = []
    if source.count("\n") > MAX_MODULE_LINES:
        found.append(f"{path.relative_to(ROOT)}: {source.count(chr(10))} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_module_or_function_is_too_long() -> None:
    assert [item for path in modules(*PACKAGES, "tests", "bench") for item in oversized(path)] == []
