"""The response half of the OpenAPI contract check: is the status documented, do the body and headers
match (see openapi_check.py for the public API and the decisions)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openapi_core.validation.schemas import (
    oas30_read_schema_validators_factory,
    oas31_schema_validators_factory,
)
from werkzeug.datastructures import Headers

from tests.fakes.openapi_request import ContractViolation, MatchedOperation, RequestChecker, describe, mimetype
from tests.fakes.openapi_spec import ref_parts

__all__ = ["ResponseChecker"]


@dataclass
class RawResponse:
    """Implements openapi-core's Response protocol."""

    status_code: int
    headers: Headers
    data: bytes | None
    content_type: str


def _shape_errors(value: Any, example: Any, where: str = "<root>") -> list[str]:
    """Compare a value with an example's shape (see openapi_check.py)."""
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


class ResponseChecker(RequestChecker):
    """Adds the response checks to the request checks (openapi-core validates a response with its request)."""

    def response_documented(self, method: str, path_qs: str, status: int) -> bool:
        """Whether the operation documents `status` (exactly, as NXX, or through "default")."""
        return self._operation_response(self.operation_for(method, path_qs), status) is not None

    def schema_errors(self, ref: str, value: Any) -> list[str]:
        """Errors of `value` against a schema of the description given as a local ref, e.g.
        "#/components/schemas/basic-error" (response rules: undocumented properties allowed)."""
        schema = self._spec.response_app.spec
        for part in ref_parts(ref):
            schema = schema / part
        factory = (
            oas30_read_schema_validators_factory
            if self._spec.version.startswith("3.0")
            else oas31_schema_validators_factory
        )
        validator = factory.create(self._spec.response_app.spec, schema)
        try:
            validator.validate(value)
        except Exception as exc:
            return [describe(exc)]
        return []

    def _operation_response(self, op: MatchedOperation, status: int) -> dict[str, Any] | None:
        responses = self._spec.data["paths"][op.template][op.method].get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                resolved = self._spec.resolve(responses[key])
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
        """Raise ContractViolation if the status is undocumented or the body/headers do not match (a 304 to
        a GET is always allowed, without a body)."""
        op = self.operation_for(method, path_qs)
        path, _ = self._split(method, path_qs)
        if status == 304 and op.method == "get":
            # GitHub answers any conditional GET whose ETag still matches with 304 Not Modified, whether
            # or not the operation lists it (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api)
            if resp_body.strip():
                raise ContractViolation(method, path, "response-body", "a 304 answer has no body")
            return
        documented = self._operation_response(op, status)
        if documented is None:
            raise ContractViolation(method, path, "status", f"status {status} is not documented")
        content: dict[str, Any] = documented.get("content") or {}
        if not content:
            if resp_body.strip():
                raise ContractViolation(method, path, "response-body", f"status {status} documents no body")
            return
        media_type = mimetype(resp_headers, "").split(";")[0].strip()
        media = content.get(media_type)
        if isinstance(media, dict) and "schema" not in media and ("examples" in media or "example" in media):
            self._check_example_shape(method, path, media_type, media, resp_body)
            return
        request = self._raw_request(op, path_qs, req_headers, req_body)
        response = RawResponse(
            status_code=status,
            headers=Headers(list(resp_headers.items())),
            data=resp_body,
            content_type=mimetype(resp_headers, "application/json"),
        )
        for err in self._spec.response_app.iter_response_errors(request, response):
            kind = "response-headers" if "Header" in type(err).__name__ else "response-body"
            raise ContractViolation(method, path, kind, f"status {status}: {describe(err)}")

    def _check_example_shape(
        self, method: str, path: str, media_type: str, media: dict[str, Any], body: bytes
    ) -> None:
        examples = [self._spec.example(e) for e in (media.get("examples") or {}).values()]
        if "example" in media:
            examples.append(copy.deepcopy(media["example"]))
        try:
            value = json.loads(body) if body else None
        except ValueError as exc:
            raise ContractViolation(method, path, "response-body", f"{media_type} body is not JSON") from exc
        failures: list[str] = []
        for example in examples:
            errors = _shape_errors(value, example)
            if not errors:
                return
            failures.extend(errors[:3])
        raise ContractViolation(method, path, "response-body", "; ".join(failures))
