"""The OpenAPI contract checker: it must reject what the description forbids and accept what it allows,
for GitHub's 3.0 description and Codegen's 3.1 one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openapi_check import ContractViolation, OpenAPIChecker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GITHUB_SPEC = FIXTURES / "github" / "rest-subset.json"
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def github() -> OpenAPIChecker:
    return OpenAPIChecker(GITHUB_SPEC)


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


def _violation(call: Any, *args: Any) -> ContractViolation:
    with pytest.raises(ContractViolation) as info:
        call(*args)
    return info.value


def test_valid_request_returns_the_operation_id(github: OpenAPIChecker) -> None:
    op = github.check_request(
        "POST", "/repos/o/r/check-runs", JSON_HEADERS, _body({"name": "codegen", "head_sha": "a" * 40})
    )
    assert op == "checks/create"


@pytest.mark.parametrize(
    ("method", "path_qs", "body", "kind", "needle"),
    [
        ("GET", "/repos/o/r/wiki", None, "operation", "no such operation"),
        ("DELETE", "/repos/o/r", None, "operation", "method not allowed"),
        ("POST", "/repos/o/r/check-runs", {"name": "x", "head_sha": "a", "colour": "red"}, "body", "colour"),
        ("POST", "/repos/o/r/check-runs", {"name": "x"}, "body", "head_sha"),
        ("PATCH", "/repos/o/r/check-runs/5", {"conclusion": "great"}, "body", "great"),
        ("PATCH", "/repos/o/r/check-runs/abc", {"status": "queued"}, "parameters", "check_run_id"),
        ("GET", "/repos/o/r/pulls?state=merged", None, "parameters", "merged"),
        ("GET", "/repos/o/r/pulls?colour=red", None, "parameters", "colour"),
        ("POST", "/repos/o/r/issues/1/labels", ["bare", "list"], "body", "not valid"),
    ],
)
def test_requests_that_break_the_contract_are_rejected(
    github: OpenAPIChecker, method: str, path_qs: str, body: Any, kind: str, needle: str
) -> None:
    raw = b"" if body is None else _body(body)
    violation = _violation(github.check_request, method, path_qs, JSON_HEADERS, raw)
    assert violation.kind == kind
    assert violation.method == method
    assert needle in str(violation)
    assert str(violation).startswith(f"{method} {path_qs.split('?')[0]}:")


@pytest.mark.parametrize(
    ("path", "operation_id", "param", "value"),
    [
        ("/repos/o/r/contents/src/pkg/mod.py", "repos/get-content", "path", "src/pkg/mod.py"),
        ("/repos/o/r/contents/a%2Fb.py", "repos/get-content", "path", "a/b.py"),
        ("/repos/o/r/git/refs/heads/feature/x", "git/delete-ref", "ref", "heads/feature/x"),
        (
            "/repos/o/r/compare/main...feature/x",
            "repos/compare-commits-with-basehead",
            "basehead",
            "main...feature/x",
        ),
        ("/repos/o/r/commits/feature/x/check-runs", "checks/list-for-ref", "ref", "feature/x"),
        ("/repos/o/r/issues/comments/5", "issues/get-comment", "comment_id", "5"),
        ("/repos/o/r/issues/5", "issues/get", "issue_number", "5"),
        ("/repos/o/r/issues/5/labels/needs%20review", "issues/remove-label", "name", "needs review"),
    ],
)
def test_routing_picks_the_most_concrete_operation_and_multi_segment_params(
    github: OpenAPIChecker, path: str, operation_id: str, param: str, value: str
) -> None:
    method = "DELETE" if "refs" in path or "labels" in path else "GET"
    matched = github.operation_for(method, path)
    assert matched.operation_id == operation_id
    assert matched.path_params[param] == value


def test_a_single_segment_parameter_never_spans_slashes(github: OpenAPIChecker) -> None:
    violation = _violation(github.operation_for, "GET", "/repos/o/r/x/pulls")
    assert violation.kind == "operation"


def test_response_checks_status_and_body(github: OpenAPIChecker) -> None:
    example = github.example(
        github.spec["paths"]["/repos/{owner}/{repo}/check-runs"]["post"]["responses"]["201"]["content"][
            "application/json"
        ]["examples"]["example-of-in-progress-conclusion"]
    )
    args = ("POST", "/repos/o/r/check-runs", JSON_HEADERS, b"")
    # GitHub's own in-progress example has conclusion null next to an enum: accepted (nullable + enum)
    github.check_response(*args, 201, JSON_HEADERS, _body(example))
    assert _violation(github.check_response, *args, 418, JSON_HEADERS, _body(example)).kind == "status"
    bad = dict(example, conclusion="great")
    assert "great" in str(_violation(github.check_response, *args, 201, JSON_HEADERS, _body(bad)))
    missing = {k: v for k, v in example.items() if k != "head_sha"}
    assert "head_sha" in str(_violation(github.check_response, *args, 201, JSON_HEADERS, _body(missing)))


def test_response_without_documented_content_must_be_empty(github: OpenAPIChecker) -> None:
    args = ("DELETE", "/repos/o/r/git/refs/heads/x", {}, b"", 204)
    github.check_response(*args, {}, b"")
    assert _violation(github.check_response, *args, JSON_HEADERS, b'{"a": 1}').kind == "response-body"


def test_text_media_types_are_checked_as_text(github: OpenAPIChecker) -> None:
    github.check_response(
        "GET",
        "/repos/o/r/compare/a...b",
        {},
        b"",
        200,
        {"Content-Type": "application/vnd.github.diff"},
        b"diff --git a/x b/x\n",
    )


def test_schema_errors_for_a_component(github: OpenAPIChecker) -> None:
    assert github.schema_errors("#/components/schemas/basic-error", {"message": "Not Found"}) == []
    assert github.schema_errors("#/components/schemas/basic-error", {"message": 404})
    assert github.response_documented("PUT", "/repos/o/r/pulls/1/merge", 409)
    assert not github.response_documented("POST", "/repos/o/r/check-runs", 409)


def _write_spec(tmp_path: Path, version: str) -> Path:
    """A tiny description with one example-only response and one schema'd request body."""
    spec = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://api.example.com/base"}],
        "paths": {
            "/things/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "post": {
                    "operationId": "make-thing",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "examples": {
                                        "one": {"value": {"id": 1, "tags": [{"name": "a"}], "note": None}}
                                    }
                                }
                            },
                        }
                    },
                },
            }
        },
    }
    path = tmp_path / f"spec-{version}.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_example_only_responses_are_checked_by_shape(tmp_path: Path, version: str) -> None:
    checker = OpenAPIChecker(_write_spec(tmp_path, version), server_prefix="/api")
    args = ("POST", "/api/base/things/7", JSON_HEADERS, _body({"name": "x"}))
    assert checker.check_request(*args) == "make-thing"
    checker.check_response(*args, 200, JSON_HEADERS, _body({"id": 2, "tags": [], "note": "n"}))
    assert "invented" in str(
        _violation(checker.check_response, *args, 200, JSON_HEADERS, _body({"invented": 1}))
    )
    wrong = _body({"id": "2", "tags": [{"name": 3}]})
    assert "at <root>/id" in str(_violation(checker.check_response, *args, 200, JSON_HEADERS, wrong))
    outside = _violation(checker.check_request, "POST", "/base/things/7", JSON_HEADERS, _body({"name": "x"}))
    assert outside.kind == "operation"
    assert _violation(checker.check_request, "POST", "/api/base/things/7", JSON_HEADERS, b"{}").kind == "body"


def _codegen_spec() -> Path | None:
    folder = FIXTURES / "codegen"
    candidates = sorted(folder.glob("*openapi*.json")) if folder.is_dir() else []
    return candidates[0] if candidates else None


def test_codegen_openapi_31_description() -> None:
    spec = _codegen_spec()
    assert spec is not None, "tests/fixtures/codegen/*openapi*.json is missing (copied from ../shared/docs)"
    checker = OpenAPIChecker(spec)
    assert str(checker.spec["openapi"]).startswith("3.1")
    path = "/v1/organizations/{org_id}/agent/run"
    assert path in checker.spec["paths"], "the copied description should have the agent-run operation"
    op = checker.check_request(
        "POST", "/v1/organizations/5/agent/run", JSON_HEADERS, _body({"prompt": "fix it"})
    )
    assert op == checker.spec["paths"][path]["post"]["operationId"]
    invented = _violation(
        checker.check_request,
        "POST",
        "/v1/organizations/5/agent/run",
        JSON_HEADERS,
        _body({"prompt": "x", "zz": 1}),
    )
    assert invented.kind == "body"
    assert (
        _violation(checker.check_request, "GET", "/v1/organizations/x/agent/runs", {}, b"").kind
        == "parameters"
    )
    run = {
        "id": 1,
        "organization_id": 5,
        "status": "running",
        "created_at": None,
        "web_url": None,
        "result": None,
    }
    args = ("POST", "/v1/organizations/5/agent/run", JSON_HEADERS, b"")
    checker.check_response(*args, 200, JSON_HEADERS, _body(run))
    assert "id" in str(
        _violation(checker.check_response, *args, 200, JSON_HEADERS, _body(dict(run, id="one")))
    )
