"""The request half of the OpenAPI contract check: routing a raw path to an operation, then checking
the request against it (see openapi_check.py for the public API and the decisions)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.fakes.openapi_spec import load

__all__ = ["ContractViolation", "MatchedOperation", "RequestChecker", "describe", "mimetype"]


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


@dataclass
class RawRequest:
    """Implements openapi-core's Request and SupportsPathPattern protocols."""

    host_url: str
    path: str
    path_pattern: str
    method: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str


def mimetype(headers: Mapping[str, str], default: str) -> str:
    """The Content-Type header (lowercased), or `default`."""
    for name, value in headers.items():
        if name.lower() == "content-type" and value:
            return value.lower()
    return default


def describe(exc: BaseException) -> str:
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


class RequestChecker:
    """Routes requests and checks them against one description."""

    def __init__(self, spec_path: pathlib.Path, server_prefix: str = "") -> None:
        self._spec = load(pathlib.Path(spec_path))
        self._prefix = server_prefix.rstrip("/")

    def _split(self, method: str, path_qs: str) -> tuple[str, list[tuple[str, str]]]:
        """The path with the server prefix stripped, and the query pairs."""
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
        server_path = self._spec.server_path
        path = path[len(server_path) :] if server_path and path.startswith(server_path) else path
        candidates = [r for r in self._spec.routes if r.method == lower]
        for attempt in ("strict", "loose"):
            best: tuple[tuple[int, int], MatchedOperation] | None = None
            for route in candidates:
                for pattern in [route.strict] if attempt == "strict" else route.loose:
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
        known = any(r.matches(path) for r in self._spec.routes)
        what = "method not allowed for this path" if known else "no such operation in the description"
        raise ContractViolation(method, path, "operation", what)

    def _raw_request(
        self, op: MatchedOperation, path_qs: str, headers: Mapping[str, str], body: bytes
    ) -> RawRequest:
        path, query = self._split(op.method, path_qs)
        return RawRequest(
            host_url=self._spec.host_url,
            path=self._spec.server_path + path,
            path_pattern=self._spec.server_path + op.template,
            method=op.method,
            parameters=RequestParameters(
                path=dict(op.path_params),
                query=ImmutableMultiDict(query),
                header=Headers(list(headers.items())),
                cookie=ImmutableMultiDict(),
            ),
            body=body if body else None,
            content_type=mimetype(headers, "application/json"),
        )

    def check_request(self, method: str, path_qs: str, headers: Mapping[str, str], body: bytes) -> str:
        """Return the operationId; raise ContractViolation if the request breaks the description."""
        op = self.operation_for(method, path_qs)
        path, query = self._split(method, path_qs)
        unknown = sorted({name for name, _ in query} - self._spec.route(op.method, op.template).query)
        if unknown:
            raise ContractViolation(method, path, "parameters", f"undocumented query parameter(s) {unknown}")
        request = self._raw_request(op, path_qs, headers, body)
        for err in self._spec.request_app.iter_request_errors(request):
            name = type(err).__name__
            kind = "security" if "Security" in name else "body" if "Body" in name else "parameters"
            raise ContractViolation(method, path, kind, describe(err))
        return op.operation_id
