"""Which images a snapshot may start from: the operator's allow-list `SNAPSHOT_ALLOWED_IMAGES`.

`snapshot.image` and every image a `snapshot.dockerfile` names (each `FROM`, each `COPY --from=<image>`)
must match one of the allow-list's globs, or the validation's `build` stage fails saying which image and
what is allowed — before anything is pulled or built.

Decisions:
- Default (`DEFAULT_ALLOWED_IMAGES`): the locally built base image `codegen-bot-base:*` and the official
  `python:*`, `node:*` and `debian:*` images of Docker Hub. An operator who wants more (a private registry,
  `ubuntu:*`) says so with `SNAPSHOT_ALLOWED_IMAGES`, comma-separated.
- References and globs are compared in Docker's canonical form: `python:3.12` is
  `docker.io/library/python:3.12`, so `python:*` allows exactly the official image and not
  `evil.example/python:3` nor `someone/python:3`. A glob without a tag (`ghcr.io/acme/*`) allows every tag
  and digest; a tag glob `*` also allows a pinned digest (`python@sha256:…`). In the repository part `*`
  stays within one path component; `**` crosses `/`. The single glob `*` (or `**`) allows every image: an
  operator's explicit choice to have no allow-list.
- A reference Docker would not accept, and a `FROM` whose variables have no default in an `ARG` before the
  first `FROM` (the bot passes no build arguments), are refused: what is not known cannot be checked.
- `scratch` and the names of earlier stages are not images.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_ALLOWED_IMAGES: tuple[str, ...] = ("codegen-bot-base:*", "python:*", "node:*", "debian:*")
SETTING = "SNAPSHOT_ALLOWED_IMAGES"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class ImageRefused(ValueError):
    """The config names an image the operator does not allow; the message is shown on the check run."""


@dataclass(frozen=True)
class Reference:
    repository: str  # domain/path, canonical
    tag: str | None
    digest: str | None


def parse_allowed(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """`SNAPSHOT_ALLOWED_IMAGES` (comma-separated) as globs; None or empty → the default list."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    globs = tuple(item.strip() for item in items if item and item.strip())
    return globs or DEFAULT_ALLOWED_IMAGES


def _split_domain(ref: str) -> tuple[str, str]:
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        domain = first.lower()
        return ("docker.io" if domain in ("index.docker.io", "registry-1.docker.io") else domain), rest
    return "docker.io", ref


def parse_reference(ref: str) -> Reference | None:
    """Docker's canonical form of an image reference; None when Docker would not accept it."""
    match = _REFERENCE.match(ref.strip())
    if match is None:
        return None
    domain, path = _split_domain(f"{match['domain']}/{match['path']}" if match["domain"] else match["path"])
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    tag = match["tag"] or (None if match["digest"] else "latest")
    return Reference(f"{domain}/{path}", tag, match["digest"])


def _glob(pattern: str, crosses_slash: bool) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        char = pattern[i]
        out.append(("." if crosses_slash else "[^/]") + "*" if char == "*" else
                   ("[^/]" if char == "?" else re.escape(char)))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def _pattern_parts(pattern: str) -> tuple[str, str | None]:
    """(canonical repository glob, tag glob or None) of one allow-list entry."""
    body = pattern.strip()
    last = body.rsplit("/", 1)[-1]
    tag: str | None = None
    if ":" in last:
        body, tag = body.rsplit(":", 1)
    domain, path = _split_domain(body)
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return f"{domain}/{path}", tag


def allowed(ref: str, globs: Sequence[str]) -> bool:
    parsed = parse_reference(ref)
    if parsed is None:
        return False
    for pattern in globs:
        if pattern.strip() in ("*", "**"):
            return True
        repository, tag_glob = _pattern_parts(pattern)
        if not _glob(repository, crosses_slash=False).match(parsed.repository):
            continue
        if tag_glob is None or tag_glob == "*":
            return True
        if parsed.tag is not None and _glob(tag_glob, crosses_slash=True).match(parsed.tag):
            return True
    return False


def refusal(where: str, ref: str, globs: Sequence[str]) -> str:
    shown = ", ".join(f"`{g}`" for g in globs)
    why = "is not an image reference Docker accepts" if parse_reference(ref) is None else "is not allowed on this bot"
    return (f"The image `{ref}` ({where}) {why}. The operator allows only {shown} (`{SETTING}`); use one of "
            "those, or ask the operator to allow the image.")


def check_image(ref: str, globs: Sequence[str], where: str = "`snapshot.image`") -> None:
    if not allowed(ref, globs):
        raise ImageRefused(refusal(where, ref, globs))


def check_dockerfile(text: str, globs: Sequence[str], path: str = "Dockerfile") -> None:
    """Every image the Dockerfile pulls must be allowed (see the module's decisions)."""
    for ref in dockerfile_images(text):
        check_image(ref, globs, where=f"in `{path}`")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuation lines joined, comments dropped."""
    lines = text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives come first, before any other line
        directive = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", line, re.IGNORECASE)
        if directive:
            escape = directive.group(1)
        elif not re.match(r"^#\s*\w+\s*=", line):
            break
    out: list[tuple[str, str]] = []
    current = ""
    for line in lines:
        if not current and line.strip().startswith("#"):
            continue
        if current and line.strip().startswith("#"):
            continue  # a comment inside a continued instruction
        stripped = line.rstrip()
        if stripped.endswith(escape):
            current += stripped[:-1] + " "
            continue
        current += line
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        current = ""
    if current.strip():
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _substitute(value: str, args: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        if name in args and args[name] != "":
            return args[name]
        if match["default"] is not None:
            return match["default"]
        return match[0]  # left as `$NAME`: not a valid reference, so refused

    return _VARIABLE.sub(one, value)


def _global_args(arguments: str, args: dict[str, str]) -> None:
    for item in arguments.split():
        name, eq, value = item.partition("=")
        if eq:
            args[name] = value.strip("\"'")


def dockerfile_images(text: str) -> list[str]:
    """The image references a Dockerfile pulls: each `FROM` and each `COPY --from=` that is no stage."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    for word, arguments in _instructions(text):
        if word == "ARG" and not seen_from:
            _global_args(arguments, args)
        elif word == "FROM":
            seen_from = True
            tokens = [t for t in arguments.split() if not t.startswith("--")]
            ref = _substitute(tokens[0], args) if tokens else ""
            if ref.lower() != "scratch" and ref.lower() not in stages:  # (an earlier stage is no image)
                images.append(ref)
            if len(tokens) >= 3 and tokens[1].lower() == "as":
                stages.add(tokens[2].lower())
        elif word == "COPY":
            for token in arguments.split():
                if token.startswith("--from="):
                    source = _substitute(token[len("--from="):], args)
                    if source.lower() not in stages and not source.isdigit():
                        images.append(source)
    return images
