"""YAML text → plain Python data, remembering the line of every key path.

Line numbers are what make config errors useful ("line 12: snapshot.port: ..."), so the text is composed
into YAML nodes (safe loader) and walked once: `lines[("snapshot", "port")] == 12` (1-based). A key path
is a tuple of mapping keys and list indexes.

Limits (a config file is untrusted input, and is parsed before anything else looks at it):
- at most `MAX_BYTES` (1 MiB) of text, `MAX_NODES` (10,000) YAML nodes and `MAX_DEPTH` (64) levels;
- no aliases (`*name`): an alias re-uses a node, so a 555-byte file can stand for billions of them (the
  "billion laughs"); refusing them keeps every step linear in the file's size.
The limits are checked on the event stream, before any node is composed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class ParsedYaml:
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of the path, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


MAX_BYTES = 1024 * 1024
MAX_NODES = 10_000
MAX_DEPTH = 64


def _check_limits(text: str) -> None:
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise YamlSyntaxError(f"the file is larger than {MAX_BYTES // 1024} KiB", None)
    nodes = depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            raise YamlSyntaxError("YAML aliases (*name) are not supported; write the value out", line)
        if isinstance(event, yaml.ScalarEvent | yaml.MappingStartEvent | yaml.SequenceStartEvent):
            nodes += 1
            if nodes > MAX_NODES:
                raise YamlSyntaxError(f"the file has more than {MAX_NODES} YAML nodes", line)
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlSyntaxError(f"the file nests deeper than {MAX_DEPTH} levels", line)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def parse_yaml(text: str) -> ParsedYaml:
    try:
        _check_limits(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from None
    parsed = ParsedYaml(data)
    if node is not None:
        _walk(node, (), parsed.lines)
    return parsed


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines)


def format_path(path: KeyPath) -> str:
    """("snapshot", "setup", 2) → "snapshot.setup[2]"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
