"""Findings a reviewer wants to hear about, from the syntax tree (tree-sitter queries, then a precise filter).

What is reported, and at which level (decisions; each aims at no false positive rather than at recall):

- Python — warning: `breakpoint()`; `<m>.set_trace()` where `<m>` is `pdb`, `ipdb` or `pudb` or an alias
  of one (`import pdb as p`); a bare `set_trace()` when the file imports it from one of those modules;
  `eval(x)`/`exec(x)` whose first argument is not a string literal (a literal is a constant string, an
  implicit or `+` concatenation of them; an f-string with a `{}` is not one). Only bare `eval`/`exec`:
  `model.eval()` is someone else's method.
- JavaScript, TypeScript, TSX — warning: `debugger` statements; `eval(x)` with a non-literal first argument;
  `Function(...)`/`new Function(...)` with any non-literal argument (template strings with `${}` are not
  literals). Notice: `console.log`/`console.debug` (often debug output, but legitimate in CLIs and
  scripts, so it never warns); `console.error/warn/info` are left alone.
- Go — warning: `runtime.Breakpoint()`. Notice: calls of the built-ins `print`/`println` (they write to
  stderr and are meant for debugging) unless the file declares its own function of that name. `fmt.Println`
  is not flagged: it is how Go programs print.
- Rust — warning: `dbg!` (a debugging macro by definition, also inside other macros' arguments). Notice:
  `todo!`/`unimplemented!` (code that panics when reached).
- JSON, YAML: nothing (no code to check).

Files with syntax errors are still checked, but matches inside an ERROR node are dropped: there the tree
is tree-sitter's guess, and the syntax error is already reported at that place.

At most `MAX_FINDINGS_PER_FILE` annotations per file, then one notice with how many more were found.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter

from validators.analysis.languages import load_language
from validators.analysis.syntax import char_column, parse
from validators.annotations import Annotation, Level

MAX_FINDINGS_PER_FILE = 20
_PY_DEBUGGERS = frozenset({"pdb", "ipdb", "pudb"})


@dataclass(frozen=True)
class Finding:
    node: tree_sitter.Node
    level: Level
    title: str
    message: str


_DEBUGGER_TITLE = "Leftover debugger breakpoint"

_QUERIES: dict[str, str] = {
    "python": """
        (import_statement) @import
        (import_from_statement) @import
        ((call function: (identifier) @name arguments: (argument_list) @args) @call
          (#any-of? @name "breakpoint" "eval" "exec" "set_trace"))
        ((call function: (attribute object: (identifier) @object attribute: (identifier) @attr)) @attr_call
          (#eq? @attr "set_trace"))
    """,
    "javascript": """
        (debugger_statement) @debugger
        ((call_expression function: (identifier) @name arguments: (arguments) @args) @call
          (#any-of? @name "eval" "Function"))
        ((new_expression constructor: (identifier) @name arguments: (arguments) @args) @call
          (#eq? @name "Function"))
        ((call_expression function: (member_expression object: (identifier) @object
                                                         property: (property_identifier) @prop)) @console
          (#eq? @object "console") (#any-of? @prop "log" "debug"))
    """,
    "go": """
        ((call_expression function: (identifier) @name) @print (#any-of? @name "print" "println"))
        ((call_expression function: (selector_expression operand: (identifier) @pkg
                                                         field: (field_identifier) @field)) @breakpoint
          (#eq? @pkg "runtime") (#eq? @field "Breakpoint"))
        ((function_declaration name: (identifier) @declared) (#any-of? @declared "print" "println"))
    """,
    "rust": """
        ((macro_invocation macro: (identifier) @name) @macro (#any-of? @name "dbg" "todo" "unimplemented"))
        ((macro_invocation macro: (scoped_identifier name: (identifier) @name)) @macro
          (#any-of? @name "dbg" "todo" "unimplemented"))
        ((token_tree (identifier) @nested) (#any-of? @nested "dbg" "todo" "unimplemented"))
    """,
}
_QUERY_OF = {"python": "python", "javascript": "javascript", "typescript": "javascript", "tsx": "javascript",
             "go": "go", "rust": "rust"}

Match = dict[str, list[tree_sitter.Node]]


def check_tree(path: str, source: bytes, tree: tree_sitter.Tree, language: str) -> list[Annotation]:
    """The findings of one parsed file as annotations (capped, with a closing notice)."""
    checker = _CHECKERS.get(_QUERY_OF.get(language, ""))
    if checker is None:
        return []
    matches = [match for _, match in tree_sitter.QueryCursor(_query(language)).matches(tree.root_node)]
    findings = checker(matches, source)
    if tree.root_node.has_error:
        findings = [f for f in findings if not _inside_error(f.node)]
    findings.sort(key=lambda f: (f.node.start_byte, f.node.end_byte))
    annotations = [_annotation(path, source, finding) for finding in findings[:MAX_FINDINGS_PER_FILE]]
    if len(findings) > MAX_FINDINGS_PER_FILE:
        line = findings[MAX_FINDINGS_PER_FILE].node.start_point.row + 1
        more = len(findings) - MAX_FINDINGS_PER_FILE
        annotations.append(Annotation(path, line, line, "notice", "More findings",
                                      f"{more} more finding(s) of the same kinds in this file are not annotated."))
    return annotations


def run_checks(path: str, source: bytes, language: str) -> list[Annotation]:
    """Parse `source` and check it (for callers that have no tree yet)."""
    return check_tree(path, source, parse(source, language), language)


@functools.cache
def _query(language: str) -> tree_sitter.Query:
    return tree_sitter.Query(load_language(language), _QUERIES[_QUERY_OF[language]])


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


# --- Python -------------------------------------------------------------------------------------------------


def _python(matches: list[Match], source: bytes) -> list[Finding]:
    modules, functions = _python_debugger_names(m["import"][0] for m in matches if "import" in m)
    findings: list[Finding] = []
    for match in matches:
        if "attr_call" in match and _text(match["object"][0]) in modules:
            call = match["attr_call"][0]
            findings.append(Finding(call, "warning", _DEBUGGER_TITLE,
                                    f"`{_text(call)}` stops the program in a debugger; remove it before merging."))
        elif "call" in match:
            findings.extend(_python_call(match, functions))
    return findings


def _python_call(match: Match, functions: set[str]) -> list[Finding]:
    call, name = match["call"][0], _text(match["name"][0])
    if name == "breakpoint" or (name == "set_trace" and name in functions):
        return [Finding(call, "warning", _DEBUGGER_TITLE,
                        f"`{name}()` stops the program in a debugger; remove it before merging.")]
    if name in ("eval", "exec"):
        args = [a for a in match["args"][0].named_children if a.type != "comment"]
        if args and args[0].type not in ("keyword_argument",) and not _python_literal(args[0]):
            return [_dynamic_code(call, f"{name}()")]
    return []


def _python_debugger_names(imports: object) -> tuple[set[str], set[str]]:
    """Names bound to a debugger module (`import pdb as p`) and to its `set_trace` in this file."""
    modules = set(_PY_DEBUGGERS)
    functions: set[str] = set()
    for node in imports:  # type: ignore[attr-defined]
        if node.type == "import_statement":
            for child in node.named_children:
                if child.type == "aliased_import" and _text(child.child_by_field_name("name")) in _PY_DEBUGGERS:
                    modules.add(_text(child.child_by_field_name("alias")))
        else:
            module = node.child_by_field_name("module_name")
            if module is None or _text(module) not in _PY_DEBUGGERS:
                continue
            for child in node.children_by_field_name("name"):
                if _text(child) == "set_trace":
                    functions.add("set_trace")
    return modules, functions


def _python_literal(node: tree_sitter.Node) -> bool:
    if node.type == "string":
        return not any(child.type == "interpolation" for child in node.named_children)
    if node.type == "concatenated_string":
        return all(_python_literal(child) for child in node.named_children)
    if node.type == "parenthesized_expression":
        return all(_python_literal(child) for child in node.named_children if child.type != "comment")
    if node.type == "binary_operator":
        operator = node.child_by_field_name("operator")
        return operator is not None and operator.type == "+" and all(
            _python_literal(node.child_by_field_name(side)) for side in ("left", "right")  # type: ignore[arg-type]
        )
    return False


# --- JavaScript / TypeScript / TSX ---------------------------------------------------------------------------


def _javascript(matches: list[Match], source: bytes) -> list[Finding]:
    findings: list[Finding] = []
    for match in matches:
        if "debugger" in match:
            findings.append(Finding(match["debugger"][0], "warning", _DEBUGGER_TITLE,
                                    "A `debugger` statement pauses the program when dev tools are open; "
                                    "remove it before merging."))
        elif "console" in match:
            call = match["console"][0]
            findings.append(Finding(call, "notice", "Debug output",
                                    f"`console.{_text(match['prop'][0])}` left in the code? Remove it or "
                                    "use the project's logger."))
        elif "call" in match:
            name = _text(match["name"][0])
            args = [a for a in match["args"][0].named_children if a.type != "comment"]
            checked = args[:1] if name == "eval" else args
            if checked and not all(_js_literal(arg) for arg in checked):
                label = "eval()" if name == "eval" else "Function()"
                findings.append(_dynamic_code(match["call"][0], label))
    return findings


def _js_literal(node: tree_sitter.Node) -> bool:
    if node.type == "string":
        return True
    if node.type == "template_string":
        return not any(child.type == "template_substitution" for child in node.named_children)
    if node.type == "parenthesized_expression":
        return all(_js_literal(child) for child in node.named_children if child.type != "comment")
    if node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        return operator is not None and operator.type == "+" and all(
            _js_literal(node.child_by_field_name(side)) for side in ("left", "right")  # type: ignore[arg-type]
        )
    return False


# --- Go ------------------------------------------------------------------------------------------------------


def _go(matches: list[Match], source: bytes) -> list[Finding]:
    declared = {_text(m["declared"][0]) for m in matches if "declared" in m}
    findings: list[Finding] = []
    for match in matches:
        if "breakpoint" in match:
            findings.append(Finding(match["breakpoint"][0], "warning", _DEBUGGER_TITLE,
                                    "`runtime.Breakpoint()` traps into the debugger; remove it before merging."))
        elif "print" in match and (name := _text(match["name"][0])) not in declared:
            findings.append(Finding(match["print"][0], "notice", "Debug output",
                                    f"The built-in `{name}` writes to stderr and is meant for debugging; "
                                    "remove it or use `fmt`/`log`."))
    return findings


# --- Rust ----------------------------------------------------------------------------------------------------


def _rust(matches: list[Match], source: bytes) -> list[Finding]:
    findings: list[Finding] = []
    for match in matches:
        if "macro" in match:
            findings.append(_rust_macro(match["macro"][0], _text(match["name"][0])))
        elif "nested" in match:
            ident = match["nested"][0]
            bang = ident.next_sibling
            args = bang.next_sibling if bang is not None else None
            if bang is not None and bang.type == "!" and args is not None and args.type == "token_tree":
                findings.append(_rust_macro(_Span(ident, args), _text(ident)))
    return findings


class _Span:
    """A node-like range from the start of one node to the end of another (for `dbg!` inside a macro)."""

    def __init__(self, first: tree_sitter.Node, last: tree_sitter.Node) -> None:
        self.first, self.last = first, last
        self.start_byte, self.end_byte = first.start_byte, last.end_byte
        self.start_point, self.end_point = first.start_point, last.end_point
        self.parent = first.parent
        self.type = "macro_span"


def _rust_macro(node: object, name: str) -> Finding:
    if name == "dbg":
        return Finding(node, "warning", "Leftover dbg!",  # type: ignore[arg-type]
                       "`dbg!` prints to stderr and is meant for debugging; remove it before merging.")
    return Finding(node, "notice", "Unfinished code",  # type: ignore[arg-type]
                   f"`{name}!` panics when reached; is this path meant to be finished in this change?")


# --- shared --------------------------------------------------------------------------------------------------


def _dynamic_code(node: tree_sitter.Node, what: str) -> Finding:
    return Finding(node, "warning", "Code built at run time",
                   f"`{what}` runs code from a non-literal argument; if any of it can come from outside, this is "
                   "code injection. Prefer parsing the data (JSON, ast.literal_eval) or an explicit dispatch.")


def _inside_error(node: tree_sitter.Node) -> bool:
    current: tree_sitter.Node | None = node.parent
    while current is not None:
        if current.is_error:
            return True
        current = current.parent
    return False


def _annotation(path: str, source: bytes, finding: Finding) -> Annotation:
    node = finding.node
    (start_row, start_col), (end_row, end_col) = node.start_point, node.end_point
    return Annotation(
        path=path,
        start_line=start_row + 1,
        end_line=end_row + 1,
        level=finding.level,
        title=finding.title,
        message=finding.message,
        start_column=char_column(source, node.start_byte, start_col),
        end_column=max(1, char_column(source, node.end_byte, end_col) - 1),
    )


_CHECKERS: dict[str, Callable[[list[Match], bytes], list[Finding]]] = {
    "python": _python,
    "javascript": _javascript,
    "go": _go,
    "rust": _rust,
}
