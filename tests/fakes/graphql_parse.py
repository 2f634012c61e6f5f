"""A tiny GraphQL reader for the fake GitHub: one operation, its variable declarations, its selections.

Not a GraphQL implementation: it reads what the fake serves (see github_graphql.py): an operation with
optional name and `($var: Type! = default, ...)` declarations, then exactly one top-level field with
arguments whose values are variables, object or list literals, strings, numbers, booleans, null or enum
names, and its selection set (aliases allowed; fragments and directives are not). Anything else, and any
operation but a mutation, is a `GraphQLContract` error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["GraphQLContract", "Selection", "Var", "parse"]


class GraphQLContract(Exception):
    """The document breaks GitHub's GraphQL schema (a bug in the caller)."""


@dataclass
class Var:
    name: str


@dataclass
class Selection:
    name: str
    alias: str
    children: list[Selection]
    args: dict[str, Any]


_TOKEN = re.compile(
    r'\s*(?:(?P<comment>#[^\n]*)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<punct>\.\.\.|[!$():=@\[\]{}|,])'
    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<name>[_A-Za-z][_0-9A-Za-z]*))"
)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise GraphQLContract(f"Parse error near {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "comment" or (kind == "punct" and match.group(kind) == ","):
            continue
        out.append(match.group(kind or 0))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise GraphQLContract(f"Parse error: expected {expected or 'a token'}, got {tok!r}")
        self.i += 1
        return tok

    def document(self) -> tuple[str, dict[str, str], Selection]:
        kind = "query"
        if self.peek() in ("mutation", "query", "subscription"):
            kind = self.take()
            if self.peek() not in ("(", "{"):
                self.take()  # operation name
        variables: dict[str, str] = {}
        if self.peek() == "(":
            self.take("(")
            while self.peek() != ")":
                self.take("$")
                name = self.take()
                self.take(":")
                variables[name] = self.type_ref()
                if self.peek() == "=":
                    self.take("=")
                    self.value()
            self.take(")")
        self.take("{")
        top = self.selection()
        if self.peek() != "}":
            raise GraphQLContract("The fake GitHub accepts exactly one top-level field per mutation")
        self.take("}")
        if self.peek() is not None:
            raise GraphQLContract("The fake GitHub accepts one operation per document")
        if kind != "mutation":
            raise GraphQLContract(f"Only mutations are served by the fake GitHub, not a {kind}")
        return kind, variables, top

    def type_ref(self) -> str:
        if self.peek() == "[":
            self.take("[")
            inner = self.type_ref()
            self.take("]")
            text = f"[{inner}]"
        else:
            text = self.take()
        if self.peek() == "!":
            self.take("!")
            text += "!"
        return text

    def value(self) -> Any:
        tok = self.take()
        if tok == "$":
            return Var(self.take())
        if tok == "{":
            obj: dict[str, Any] = {}
            while self.peek() != "}":
                key = self.take()
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        if tok == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if tok.startswith('"'):
            return bytes(tok[1:-1], "utf-8").decode("unicode_escape")
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "null":
            return None
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        return ("ENUM", tok)

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.peek() == "(":
            self.take("(")
            while self.peek() != ")":
                name = self.take()
                self.take(":")
                args[name] = self.value()
            self.take(")")
        return args

    def selection(self) -> Selection:
        name = self.take()
        alias = name
        if self.peek() == ":":
            self.take(":")
            name = self.take()
        args = self.arguments()
        children: list[Selection] = []
        if self.peek() == "{":
            self.take("{")
            while self.peek() != "}":
                children.append(self.selection())
            self.take("}")
        return Selection(name, alias, children, args)


def parse(document: str) -> tuple[dict[str, str], Selection]:
    """(declared variable types, the one top-level field) of a mutation document."""
    _, variables, top = _Parser(document).document()
    return variables, top
