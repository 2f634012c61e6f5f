"""Syntax errors of one file, from tree-sitter's ERROR and MISSING nodes.

Decisions:

- Positions: tree-sitter rows and columns are 0-based and columns count bytes; annotations get 1-based
  lines and 1-based *character* columns (the bytes of the line before the node are decoded as UTF-8).
- Nesting collapses to the innermost: an ERROR node that contains other ERROR/MISSING nodes is not
  reported itself (recovery often wraps a whole construct, or the whole file, in one ERROR; the inner
  nodes say where it went wrong). Two findings at the same position become one, a MISSING one preferred
  (it says what was expected).
- A MISSING node says what is missing: `missing ')'` for a token, `missing identifier` for a named node.
  An ERROR node of one token says `unexpected '='`; a longer one quotes the start of its text
  (`invalid syntax near '…'`, first line, at most 40 characters, secrets masked).
- Each annotation covers the line the error starts on only (columns: from its start to its end on that line,
  or to the end of the line): GitHub drops columns on multi-line ranges, and the start is where the reader
  must look. The message names the last line when the error spans several.
- At most `MAX_ERRORS_PER_FILE` annotations per file (cascading errors say little more), then one notice
  with how many more there are.
"""

from __future__ import annotations

import tree_sitter

from validators.analysis.languages import load_language
from validators.analysis.secrets import redact_secrets
from validators.annotations import Annotation

MAX_ERRORS_PER_FILE = 20
_SNIPPET_CHARS = 40
TITLE = "Syntax error"


def parse(source: bytes, language: str | tree_sitter.Language) -> tree_sitter.Tree:
    """Parse `source` with a language given by config name or as a grammar (a new parser per call)."""
    grammar = load_language(language) if isinstance(language, str) else language
    return tree_sitter.Parser(grammar).parse(source)


def find_error_nodes(root: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Innermost ERROR nodes and all MISSING nodes, in source order, one per start position."""
    found: list[tree_sitter.Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing:
            found.append(node)
            continue
        inner = [child for child in node.children if child.has_error or child.is_missing]
        if node.is_error and not inner:
            found.append(node)
            continue
        stack.extend(reversed(inner))
    found.sort(key=lambda n: (n.start_byte, not n.is_missing, n.end_byte))
    unique: list[tree_sitter.Node] = []
    seen: set[int] = set()
    for node in found:
        if node.start_byte not in seen:
            seen.add(node.start_byte)
            unique.append(node)
    return unique


def error_annotations(path: str, source: bytes, nodes: list[tree_sitter.Node]) -> list[Annotation]:
    """Failure annotations for `find_error_nodes`' result (capped, with a closing notice)."""
    annotations = [_annotation(path, source, node) for node in nodes[:MAX_ERRORS_PER_FILE]]
    if len(nodes) > MAX_ERRORS_PER_FILE:
        line = nodes[MAX_ERRORS_PER_FILE].start_point.row + 1
        more = len(nodes) - MAX_ERRORS_PER_FILE
        annotations.append(
            Annotation(path, line, line, "notice", "More syntax errors",
                       f"{more} more syntax error(s) in this file are not annotated; fix the first ones.")
        )
    return annotations


def syntax_errors(path: str, source: bytes, language: str | tree_sitter.Language) -> list[Annotation]:
    """One failure annotation per syntax error of the file (see the module's rules)."""
    tree = parse(source, language)
    if not tree.root_node.has_error:
        return []
    return error_annotations(path, source, find_error_nodes(tree.root_node))


def char_column(source: bytes, byte_offset: int, byte_column: int) -> int:
    """The 1-based character column of a byte offset whose 0-based byte column is `byte_column`."""
    line_start = byte_offset - byte_column
    return len(source[line_start:byte_offset].decode("utf-8", "replace")) + 1


def _annotation(path: str, source: bytes, node: tree_sitter.Node) -> Annotation:
    start_row, start_col = node.start_point
    end_row, end_col = node.end_point
    if end_row > start_row and end_col == 0:  # ends with the newline of the previous row
        end_row -= 1
    column = char_column(source, node.start_byte, start_col)
    if end_row == start_row:
        end_column = char_column(source, node.end_byte, end_col) - 1
    else:
        line_end = source.find(b"\n", node.start_byte)
        line_end = len(source) if line_end < 0 else line_end
        end_column = char_column(source, line_end, start_col + line_end - node.start_byte) - 1
    message = _describe(source, node)
    if end_row > start_row:
        message += f" (the error runs to line {end_row + 1})"
    return Annotation(
        path=path,
        start_line=start_row + 1,
        end_line=start_row + 1,
        level="failure",
        title=TITLE,
        message=message,
        start_column=column,
        end_column=max(column, end_column),
    )


def _describe(source: bytes, node: tree_sitter.Node) -> str:
    if node.is_missing:
        return f"missing {node.type.replace('_', ' ')}" if node.is_named else f"missing '{node.type}'"
    if node.start_byte >= len(source.rstrip()):
        return "unexpected end of file"
    text = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
    first_line = redact_secrets(text.strip().split("\n", 1)[0].strip())
    if not first_line:
        return "invalid syntax"
    if len(first_line) > _SNIPPET_CHARS:
        first_line = first_line[: _SNIPPET_CHARS - 1] + "…"
    if _is_one_token(node):
        return f"unexpected '{first_line}'"
    return f"invalid syntax near '{first_line}'"


def _is_one_token(node: tree_sitter.Node) -> bool:
    while node.child_count == 1:
        node = node.children[0]
    return node.child_count == 0
