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

Modules: openapi_spec.py loads the description and builds the routes, openapi_request.py routes and checks
requests, openapi_response.py checks responses; this module puts them together.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.openapi_request import ContractViolation, MatchedOperation
from tests.fakes.openapi_response import ResponseChecker

__all__ = ["ContractViolation", "MatchedOperation", "OpenAPIChecker"]


class OpenAPIChecker(ResponseChecker):
    """Checks requests/responses against one OpenAPI description (see module docstring)."""

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
        return self._spec.resolve(node)

    def example(self, node: Any) -> Any:
        """A deep copy of an example object's value (following `$ref`s, also inside `value`)."""
        return self._spec.example(node)
