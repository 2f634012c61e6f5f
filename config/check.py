"""`codegen-bot check-config PATH`: the same errors the `codegen/config` check run shows, locally.

Exit codes: 0 valid ("ok"), 1 invalid (one line per error: `file:line: key.path: message`),
2 the file cannot be read. `_extends` needs GitHub, so locally the file is checked on its own and a note
says the inherited file was not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from config.loader import load_text
from config.yaml_source import YamlSyntaxError, parse_yaml


def check_config_command(path: str | Path, out: TextIO) -> int:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        out.write(f"{file}: cannot read: {exc}\n")
        return 2
    loaded = load_text(text, str(file))
    for error in loaded.errors:
        out.write(f"{error}\n")
    if not loaded.ok:
        return 1
    try:
        data = parse_yaml(text).data
    except YamlSyntaxError:  # pragma: no cover - load_text reported it already
        data = None
    if isinstance(data, dict) and "_extends" in data:
        out.write(f"note: _extends ({data['_extends']}) is read from GitHub; checked this file on its own\n")
    out.write("ok\n")
    return 0
