"""Check HTTP requests and responses against an OpenAPI 3.0 or 3.1 description (used by every fake).

Public API (stable; the fake GitHub and the fake Codegen API both rely on it):

    class ContractViolation(AssertionError)
        .method, .path, .kind, .detail. The message reads "METHOD /path: what is wrong". `kind` is one of
        "operation" (the spec has no such operation), "parameters", "body", "security" (request side) and
        "status", "response-body", "response-headers" (response side), so a fake can answer 404 or 422
        like the real service would.

    class OpenAPIChecker(spec_path: pathlib.Path, server_prefix: str = "")
        check_request(method, path_qs, headers, body) -> str
            The operationId (or "METHOD /template") of the matching operation; raises ContractViolation.
        check_response(method, path_qs, req_headers, req_body, status, resp_headers, resp_body) -> None
            Raises ContractViolation if the status is undocumented or the body/headers do not match.
        operation_for(method, path_qs) -> MatchedOperation   (template, operationId, decoded path params)
        spec -> dict        the loaded (normalised) description, for building responses from its examples
        spec_problem -> str | None   why the description itself fails openapi-spec-validator, if it does
        response_documented(method, path_qs, status) -> bool
        schema_errors(ref, value) -> list[str]   e.g. ref "#/components/schemas/basic-error"
        resolve(node) -> Any   follows "$ref"s inside `spec`
        example(node) -> Any   deep copy of an example object's value (refs followed)

Decisions:

- `path_qs` is the raw (still percent-encoded) path plus query string as received, e.g.
  aiohttp's `request.raw_path`. `server_prefix` is a path prefix under which the fake serves the spec's
  paths (e.g. "/api"); it is stripped before matching. The spec's `servers` hosts are ignored: fakes run on
  127.0.0.1, so matching is on the path alone.
- Routing is our own, not openapi-core's: openapi-core's templates never let a parameter span a "/", but
  GitHub's `contents/{path}`, `git/refs/{ref}`, `commits/{ref}/...` and `compare/{basehead}` take slashes
  (the description marks them `x-multi-segment: true`). We first match with one segment per parameter;
  if nothing matches, we let one `x-multi-segment` parameter span segments. The most concrete template
  (most literal text, then fewest parameters) wins. The matched template is then handed to openapi-core
  through a path finder that looks it up exactly, so openapi-core validates parameters, body and responses.
- Request bodies are validated with additionalProperties forbidden by default (an invented field is a bug
  in the client: GitHub silently ignores it, so the bot would think it set something it did not).
  Responses allow undocumented properties: the real services send more than their schemas list.
- Query parameters the operation does not document are a violation (again, the service would ignore them).
- For OpenAPI 3.0 descriptions, a schema with `nullable: true` and an `enum` also accepts null. GitHub's
  description relies on this (e.g. a check run's `conclusion` is null while in progress) while the strict
  3.0.3 reading, which openapi-core follows, would reject the real service's responses.
- A `discriminator` whose alternatives are not all objects is ignored (the `oneOf` still applies):
  GitHub's contents response discriminates on `type` but maps "array" to the directory listing, so no
  validator can apply it and GitHub's own directory example would fail.
- A media type documented only by example (no schema) is checked against the example's shape: no key
  the example lacks, and the same JSON type wherever both have a non-null value (arrays: every item
  against the example's first item).
- Media types other than JSON that openapi-core does not know (e.g. application/vnd.github.diff) are
  deserialised as text when their schema is a string and as JSON otherwise.
- The description itself is validated once with openapi-spec-validator, but a failure only sets
  `spec_problem`: Codegen's published description declares no `org_id` parameter for
  `GET .../repos/check-suite-settings`, and it is still the contract the service honours.
- Loading a description is slow (~0.5 s for GitHub's), so descriptions are cached per file and mtime for
  the whole test session; checkers are cheap to create.
"""

from __future__ import annotations

import copy
import json
import pathlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml
from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.datatypes import TemplateResult
from openapi_core.templating.paths.datatypes import PathOperationServer
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.validation.schemas import (
    oas30_read_schema_validators_factory,
    oas31_schema_validators_factory,
)
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = ["ContractViolation", "MatchedOperation", "OpenAPIChecker"]

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


class ContractViolation(AssertionError):
    """A request or response that the OpenAPI description does not allow."""

    def __init__(self, method: str, path: str, kind: str, detail: str) -> None:
        self.method = method.upper()
        self.path = path
        self.kind = kind
        self.detail = detail
        super().__init__(f"{self.method} {path}: {detail}")


@dataclass(frozen=True)
class MatchedOperation:
    """The operation a request path matched: its template, id and decoded path parameters."""

    method: str
    template: str
    operation_id: str
    path_params: dict[str, str]


# --------------------------------------------------------------------------------------------------
# Loading and caching descriptions


@dataclass
class _Route:
    method: str
    template: str
    operation_id: str
    names: list[str]
    literal: int
    strict: re.Pattern[str]
    loose: list[re.Pattern[str]]


@dataclass
class _LoadedSpec:
    data: dict[str, Any]
    version: str
    request_app: OpenAPI
    response_app: OpenAPI
    spec_problem: str | None
    routes: list[_Route] = field(default_factory=list)


_CACHE: dict[tuple[str, int], _LoadedSpec] = {}
_CACHE_LOCK = threading.Lock()


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
    """`nullable: true` next to `enum` admits null (see module docstring)."""
    for node in _walk(data):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)


def _drop_impossible_discriminators(data: dict[str, Any]) -> None:
    """A discriminator is dropped when one of its alternatives is not an object (see module docstring)."""
    for node in list(_walk(data)):
        if not isinstance(node.get("discriminator"), dict):
            continue
        alternatives = [_resolve(data, alt) for alt in node.get("oneOf", []) + node.get("anyOf", [])]
        if any(isinstance(alt, dict) and alt.get("type") not in (None, "object") for alt in alternatives):
            del node["discriminator"]


def _resolve(data: dict[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = data
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
        if seen > 64:
            raise ValueError("reference cycle")
    return node


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
            schema = _resolve(data, media.get("schema", {}))
            is_text = isinstance(schema, dict) and schema.get("type") == "string"
            found[mimetype] = as_text if is_text else as_json
    return found


def _exact_finder_cls(data: dict[str, Any]) -> type:
    """A path finder that receives the already-matched template and looks it up exactly."""
    server_url = ((data.get("servers") or [{}])[0]).get("url", "/")
    server_path = urlsplit(server_url).path.rstrip("/")

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


def _load(spec_path: pathlib.Path) -> _LoadedSpec:
    resolved = spec_path.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
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
        loaded = _LoadedSpec(data, version, request_app, response_app, problem)
        for template, item in data.get("paths", {}).items():
            for method in _METHODS:
                operation = item.get(method) if isinstance(item, dict) else None
                if not isinstance(operation, dict):
                    continue
                params = [
                    _resolve(data, p) for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                ]
                multi = {
                    p["name"] for p in params if p.get("in") == "path" and p.get("x-multi-segment") is True
                }
                names, literal, strict, loose = _template_regexes(template, multi)
                op_id = operation.get("operationId") or f"{method.upper()} {template}"
                loaded.routes.append(_Route(method, template, op_id, names, literal, strict, loose))
        _CACHE[key] = loaded
        return loaded


# --------------------------------------------------------------------------------------------------
# Raw request/response objects for openapi-core


@dataclass
class _RawRequest:
    """Implements openapi-core's Request and SupportsPathPattern protocols."""

    host_url: str
    path: str
    path_pattern: str
    method: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str


@dataclass
class _RawResponse:
    """Implements openapi-core's Response protocol."""

    status_code: int
    headers: Headers
    data: bytes | None
    content_type: str


def _mimetype(headers: Mapping[str, str], default: str) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type" and value:
            return value.lower()
    return default


def _describe(exc: BaseException) -> str:
    """A readable account of an openapi-core error: the schema errors it wraps, else its message chain."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        schema_errors = getattr(current, "schema_errors", None)
        if schema_errors:
            details = []
            for err in list(schema_errors)[:5]:
                where = "/".join(str(p) for p in getattr(err, "absolute_path", [])) or "<root>"
                details.append(f"at {where}: {getattr(err, 'message', err)}")
            return f"{type(exc).__name__}: " + "; ".join(details)
        text = str(current)
        parts.append(text[:300] if text else type(current).__name__)
        current = current.__cause__
    return "; ".join(dict.fromkeys(parts))


def _shape_errors(value: Any, example: Any, where: str = "<root>") -> list[str]:
    """Compare a value with an example's shape (see module docstring)."""
    if value is None or example is None:
        return []
    kinds = ((bool,), (int, float), (str,), (list,), (dict,))

    def kind(v: Any) -> int:
        for i, types in enumerate(kinds):
            if isinstance(v, types) and not (i == 1 and isinstance(v, bool)):
                return i
        return -1

    if kind(value) != kind(example):
        return [f"at {where}: {type(value).__name__} where the example has {type(example).__name__}"]
    errors: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in example:
                errors.append(f"at {where}: key {key!r} is not in the documented example")
            else:
                errors.extend(_shape_errors(item, example[key], f"{where}/{key}"))
    elif isinstance(value, list) and example:
        for index, item in enumerate(value):
            errors.extend(_shape_errors(item, example[0], f"{where}/{index}"))
    return errors


# --------------------------------------------------------------------------------------------------


class OpenAPIChecker:
    """Checks requests/responses against one OpenAPI description (see module docstring)."""

    def __init__(self, spec_path: pathlib.Path, server_prefix: str = "") -> None:
        self._spec = _load(pathlib.Path(spec_path))
        self._prefix = server_prefix.rstrip("/")
        server_url = ((self._spec.data.get("servers") or [{}])[0]).get("url", "/")
        parts = urlsplit(server_url)
        self._host_url = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://localhost"
        self._server_path = parts.path.rstrip("/")

    @property
    def spec(self) -> dict[str, Any]:
        """The loaded description (shared; deep-copy anything you mutate)."""
        return self._spec.data

    @property
    def spec_problem(self) -> str | None:
        """Why openapi-spec-validator rejects the description itself, or None (checking goes on)."""
        return self._spec.spec_problem

    def resolve(self, node: Any) -> Any:
        """Follow local `$ref`s in the description."""
        return _resolve(self._spec.data, node)

    def example(self, node: Any) -> Any:
        """A deep copy of an example object's value (following `$ref`s, also inside `value`)."""
        example = self.resolve(node)
        value = example.get("value") if isinstance(example, dict) and "value" in example else example
        while isinstance(value, dict) and set(value) == {"$ref"}:
            target = self.resolve(value)
            value = target.get("value", target) if isinstance(target, dict) else target
        return copy.deepcopy(value)

    # ---- routing ------------------------------------------------------------------------------

    def _split(self, method: str, path_qs: str) -> tuple[str, list[tuple[str, str]]]:
        parts = urlsplit(path_qs)
        path = parts.path
        if self._prefix:
            if not (path == self._prefix or path.startswith(self._prefix + "/")):
                raise ContractViolation(method, path, "operation", f"path is outside {self._prefix!r}")
            path = path[len(self._prefix) :] or "/"
        return path, parse_qsl(parts.query, keep_blank_values=True)

    def operation_for(self, method: str, path_qs: str) -> MatchedOperation:
        """The operation a raw path matches; ContractViolation(kind="operation") if none."""
        lower = method.lower()
        path, _ = self._split(method, path_qs)
        path = (
            path[len(self._server_path) :]
            if self._server_path and path.startswith(self._server_path)
            else path
        )
        candidates = [r for r in self._spec.routes if r.method == lower]
        for attempt in ("strict", "loose"):
            best: tuple[tuple[int, int], MatchedOperation] | None = None
            for route in candidates:
                patterns: Iterable[re.Pattern[str]] = [route.strict] if attempt == "strict" else route.loose
                for pattern in patterns:
                    match = pattern.fullmatch(path)
                    if match is None:
                        continue
                    params = {name: unquote(match.group(f"p{i}")) for i, name in enumerate(route.names)}
                    found = MatchedOperation(lower, route.template, route.operation_id, params)
                    rank = (-route.literal, len(route.names))
                    if best is None or rank < best[0]:
                        best = (rank, found)
                    break
            if best is not None:
                return best[1]
        known = any(
            r.strict.fullmatch(path) or any(p.fullmatch(path) for p in r.loose) for r in self._spec.routes
        )
        what = "method not allowed for this path" if known else "no such operation in the description"
        raise ContractViolation(method, path, "operation", what)

    # ---- requests -----------------------------------------------------------------------------

    def _documented_query(self, template: str, method: str) -> set[str]:
        item = self._spec.data["paths"][template]
        names: set[str] = set()
        for raw in [*item.get("parameters", []), *item[method].get("parameters", [])]:
            param = self.resolve(raw)
            if param.get("in") == "query":
                names.add(param["name"])
        return names

    def _raw_request(
        self, op: MatchedOperation, path_qs: str, headers: Mapping[str, str], body: bytes
    ) -> _RawRequest:
        path, query = self._split(op.method, path_qs)
        return _RawRequest(
            host_url=self._host_url,
            path=self._server_path + path,
            path_pattern=self._server_path + op.template,
            method=op.method,
            parameters=RequestParameters(
                path=dict(op.path_params),
                query=ImmutableMultiDict(query),
                header=Headers(list(headers.items())),
                cookie=ImmutableMultiDict(),
            ),
            body=body if body else None,
            content_type=_mimetype(headers, "application/json"),
        )

    def check_request(self, method: str, path_qs: str, headers: Mapping[str, str], body: bytes) -> str:
        """Return the operationId; raise ContractViolation if the request breaks the description."""
        op = self.operation_for(method, path_qs)
        path, query = self._split(method, path_qs)
        unknown = sorted({name for name, _ in query} - self._documented_query(op.template, op.method))
        if unknown:
            raise ContractViolation(method, path, "parameters", f"undocumented query parameter(s) {unknown}")
        request = self._raw_request(op, path_qs, headers, body)
        for err in self._spec.request_app.iter_request_errors(request):
            name = type(err).__name__
            kind = "security" if "Security" in name else "body" if "Body" in name else "parameters"
            raise ContractViolation(method, path, kind, _describe(err))
        return op.operation_id

    # ---- responses ----------------------------------------------------------------------------

    def response_documented(self, method: str, path_qs: str, status: int) -> bool:
        """Whether the operation documents `status` (exactly, as NXX, or through "default")."""
        return self._operation_response(self.operation_for(method, path_qs), status) is not None

    def schema_errors(self, ref: str, value: Any) -> list[str]:
        """Errors of `value` against a schema of the description given as a local ref, e.g.
        "#/components/schemas/basic-error" (response rules: undocumented properties allowed)."""
        schema = self._spec.response_app.spec
        for part in ref.removeprefix("#/").split("/"):
            schema = schema / part.replace("~1", "/").replace("~0", "~")
        factory = (
            oas30_read_schema_validators_factory
            if self._spec.version.startswith("3.0")
            else oas31_schema_validators_factory
        )
        validator = factory.create(self._spec.response_app.spec, schema)
        try:
            validator.validate(value)
        except Exception as exc:
            return [_describe(exc)]
        return []

    def _operation_response(self, op: MatchedOperation, status: int) -> dict[str, Any] | None:
        responses = self._spec.data["paths"][op.template][op.method].get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                resolved = self.resolve(responses[key])
                return resolved if isinstance(resolved, dict) else {}
        return None

    def check_response(
        self,
        method: str,
        path_qs: str,
        req_headers: Mapping[str, str],
        req_body: bytes,
        status: int,
        resp_headers: Mapping[str, str],
        resp_body: bytes,
    ) -> None:
        """Raise ContractViolation if the status is undocumented or the body/headers do not match."""
        op = self.operation_for(method, path_qs)
        path, _ = self._split(method, path_qs)
        documented = self._operation_response(op, status)
        if documented is None:
            raise ContractViolation(method, path, "status", f"status {status} is not documented")
        content: dict[str, Any] = documented.get("content") or {}
        if not content:
            if resp_body.strip():
                raise ContractViolation(method, path, "response-body", f"status {status} documents no body")
            return
        mimetype = _mimetype(resp_headers, "").split(";")[0].strip()
        media = content.get(mimetype)
        if isinstance(media, dict) and "schema" not in media and ("examples" in media or "example" in media):
            self._check_example_shape(method, path, mimetype, media, resp_body)
            return
        request = self._raw_request(op, path_qs, req_headers, req_body)
        response = _RawResponse(
            status_code=status,
            headers=Headers(list(resp_headers.items())),
            data=resp_body,
            content_type=_mimetype(resp_headers, "application/json"),
        )
        for err in self._spec.response_app.iter_response_errors(request, response):
            kind = "response-headers" if "Header" in type(err).__name__ else "response-body"
            raise ContractViolation(method, path, kind, f"status {status}: {_describe(err)}")

    def _check_example_shape(
        self, method: str, path: str, mimetype: str, media: dict[str, Any], body: bytes
    ) -> None:
        examples = [self.example(e) for e in (media.get("examples") or {}).values()]
        if "example" in media:
            examples.append(copy.deepcopy(media["example"]))
        try:
            value = json.loads(body) if body else None
        except ValueError as exc:
            raise ContractViolation(method, path, "response-body", f"{mimetype} body is not JSON") from exc
        failures: list[str] = []
        for example in examples:
            errors = _shape_errors(value, example)
            if not errors:
                return
            failures.extend(errors[:3])
        raise ContractViolation(method, path, "response-body", "; ".join(failures))
