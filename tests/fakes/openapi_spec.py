"""A loaded OpenAPI description: read once per file and mtime, normalised, with its routes.

`load(path)` gives a `LoadedSpec`: the description's data (normalised as openapi_check.py's docstring
decides), its server URL split up, one `Route` per operation (regexes for our own routing, and the query
parameters it documents), and the two openapi-core apps that validate requests (additional properties
forbidden) and responses (allowed). Loading is slow (~0.5 s for GitHub's description), so a description is
loaded once per file and mtime for the whole test session.
"""

from __future__ import annotations

import copy
import json
import pathlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.templating.datatypes import TemplateResult
from openapi_core.templating.paths.datatypes import PathOperationServer
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

__all__ = ["LoadedSpec", "Route", "load", "ref_parts", "resolve_ref"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_NATIVE_MEDIA_TYPES = {
    "application/json",
    "application/vnd.api+json",
    "text/plain",
    "text/html",
    "application/octet-stream",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
}


@dataclass
class Route:
    """One operation: its template's regexes (one segment per parameter; one per multi-segment name)."""

    method: str
    template: str
    operation_id: str
    names: list[str]
    literal: int
    strict: re.Pattern[str]
    loose: list[re.Pattern[str]]
    query: frozenset[str]  # the query parameters the operation documents

    def matches(self, path: str) -> bool:
        return bool(self.strict.fullmatch(path) or any(p.fullmatch(path) for p in self.loose))


@dataclass
class LoadedSpec:
    data: dict[str, Any]
    version: str
    request_app: OpenAPI
    response_app: OpenAPI
    spec_problem: str | None
    server_url: str
    host_url: str  # scheme://host of the first server ("http://localhost" if it has none)
    server_path: str  # path of the first server, without a trailing slash
    routes: list[Route] = field(default_factory=list)

    def resolve(self, node: Any) -> Any:
        return resolve_ref(self.data, node)

    def route(self, method: str, template: str) -> Route:
        return next(r for r in self.routes if (r.method, r.template) == (method, template))

    def example(self, node: Any) -> Any:
        """A deep copy of an example object's value (following `$ref`s, also inside `value`)."""
        example = self.resolve(node)
        value = example.get("value") if isinstance(example, dict) and "value" in example else example
        while isinstance(value, dict) and set(value) == {"$ref"}:
            target = self.resolve(value)
            value = target.get("value", target) if isinstance(target, dict) else target
        return copy.deepcopy(value)


_CACHE: dict[tuple[str, int], LoadedSpec] = {}
_CACHE_LOCK = threading.Lock()


def ref_parts(ref: str) -> list[str]:
    """The unescaped parts of a local JSON pointer such as "#/components/schemas/basic-error"."""
    return [part.replace("~1", "/").replace("~0", "~") for part in ref.removeprefix("#/").split("/")]


def resolve_ref(data: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s from `node` inside `data`."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = data
        for part in ref_parts(node["$ref"]):
            target = target[part]
        node = target
        seen += 1
        if seen > 64:
            raise ValueError("reference cycle")
    return node


def _read_document(path: pathlib.Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not an OpenAPI document")
    return data


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _normalise_30(data: dict[str, Any]) -> None:
    """`nullable: true` next to `enum` admits null (see openapi_check.py)."""
    for node in _walk(data):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)


def _drop_impossible_discriminators(data: dict[str, Any]) -> None:
    """A discriminator is dropped when one of its alternatives is not an object (see openapi_check.py)."""
    for node in list(_walk(data)):
        if not isinstance(node.get("discriminator"), dict):
            continue
        alternatives = [resolve_ref(data, alt) for alt in node.get("oneOf", []) + node.get("anyOf", [])]
        if any(isinstance(alt, dict) and alt.get("type") not in (None, "object") for alt in alternatives):
            del node["discriminator"]


def _server(data: dict[str, Any]) -> tuple[str, str, str]:
    """(URL, scheme://host, path without trailing slash) of the description's first server."""
    url = ((data.get("servers") or [{}])[0]).get("url", "/")
    parts = urlsplit(url)
    host = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://localhost"
    return url, host, parts.path.rstrip("/")


def _template_regexes(
    template: str, multi_segment: set[str]
) -> tuple[list[str], int, re.Pattern[str], list[re.Pattern[str]]]:
    """Names, literal length, the one-segment-per-parameter regex, and one regex per multi-segment name."""
    pieces = re.split(r"(\{[^}]+\})", template)
    names = [p[1:-1] for p in pieces if p.startswith("{") and p.endswith("}")]
    literal = sum(len(p) for p in pieces if not p.startswith("{"))

    def build(loose_index: int | None) -> re.Pattern[str]:
        out: list[str] = []
        index = 0
        for piece in pieces:
            if piece.startswith("{") and piece.endswith("}"):
                out.append(f"(?P<p{index}>.+)" if index == loose_index else f"(?P<p{index}>[^/]+)")
                index += 1
            else:
                out.append(re.escape(piece))
        return re.compile("".join(out))

    loose = [build(i) for i, name in enumerate(names) if name in multi_segment]
    return names, literal, build(None), loose


def _routes(data: dict[str, Any]) -> list[Route]:
    routes: list[Route] = []
    for template, item in data.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if not isinstance(operation, dict):
                continue
            params = [
                resolve_ref(data, p) for p in [*item.get("parameters", []), *operation.get("parameters", [])]
            ]
            multi = {p["name"] for p in params if p.get("in") == "path" and p.get("x-multi-segment") is True}
            query = frozenset(p["name"] for p in params if p.get("in") == "query")
            names, literal, strict, loose = _template_regexes(template, multi)
            op_id = operation.get("operationId") or f"{method.upper()} {template}"
            routes.append(Route(method, template, op_id, names, literal, strict, loose, query))
    return routes


def _media_deserializers(data: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """Deserialisers for vendor media types: text when the schema is a string, JSON otherwise."""

    def as_json(value: bytes, **_: str) -> Any:
        return json.loads(value)

    def as_text(value: bytes, **_: str) -> str:
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    found: dict[str, Callable[..., Any]] = {}
    for node in _walk(data.get("paths", {})):
        content = node.get("content")
        if not isinstance(content, dict):
            continue
        for mimetype, media in content.items():
            if mimetype in _NATIVE_MEDIA_TYPES or not isinstance(media, dict) or "*" in mimetype:
                continue
            schema = resolve_ref(data, media.get("schema", {}))
            is_text = isinstance(schema, dict) and schema.get("type") == "string"
            found[mimetype] = as_text if is_text else as_json
    return found


def _exact_finder_cls(data: dict[str, Any]) -> type:
    """A path finder that receives the already-matched template and looks it up exactly."""
    server_url, _, server_path = _server(data)

    class _ExactFinder:
        def __init__(self, spec: SchemaPath, base_url: str | None = None) -> None:
            self.spec = spec

        def find(self, method: str, name: str) -> PathOperationServer:
            template = unquote(urlsplit(name).path)
            if server_path and template.startswith(server_path):
                template = template[len(server_path) :]
            paths = self.spec / "paths"
            if template not in data.get("paths", {}):
                raise PathNotFound(name)
            path = paths / template
            if method not in data["paths"][template]:
                raise OperationNotFound(name, method)
            servers = self.spec / "servers"
            server = (servers / 0) if servers.exists() else None
            return PathOperationServer(
                path,
                path / method,
                server,
                TemplateResult(template, {}),
                TemplateResult(server_url, {}),
            )

    return _ExactFinder


def _build(resolved: pathlib.Path) -> LoadedSpec:
    data = _read_document(resolved)
    version = str(data.get("openapi", ""))
    if version.startswith("3.0"):
        _normalise_30(data)
    _drop_impossible_discriminators(data)
    common: dict[str, Any] = {
        "path_finder_cls": _exact_finder_cls(data),
        "extra_media_type_deserializers": _media_deserializers(data),
    }
    tree = SchemaPath.from_dict(data, base_uri=resolved.as_uri())
    problem: str | None = None
    try:
        OpenAPI(tree)  # validates the description itself
    except Exception as exc:  # the description is third-party: record, never refuse to check against it
        problem = f"{type(exc).__name__}: {exc}"
    request_app = OpenAPI(
        tree,
        config=Config(spec_validator_cls=None, additional_properties_default_policy="forbid", **common),
    )
    response_app = OpenAPI(tree, config=Config(spec_validator_cls=None, **common))
    server_url, host_url, server_path = _server(data)
    return LoadedSpec(
        data, version, request_app, response_app, problem, server_url, host_url, server_path, _routes(data)
    )


def load(spec_path: pathlib.Path) -> LoadedSpec:
    """The description at `spec_path`, loaded once per file and mtime."""
    resolved = spec_path.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _CACHE[key] = _build(resolved)
        return cached
