"""REST handlers of the fake GitHub for CI results: check runs, their annotations, check suites, and
commit statuses.

Handlers enforce what GitHub enforces beyond the schema: at most 50 annotations per request, output
summary and text of at most 65535 **bytes** in UTF-8 (GitHub answers 422 "Only 65535 characters are
allowed" but counts bytes: a summary of 30,000 "é" is refused — docs.github.com "Create a check run",
`output.summary`: "Maximum length: 65535 characters", measured on the encoded body), columns only on
single-line annotations, a conclusion for completed runs
(and completed status for a conclusion), status descriptions of at most 140 characters, and only the app
that created a check run may update it.

Decisions:
- A run's annotations accumulate across updates; its output title/summary/text are the latest ones.
- A suite's status and conclusion are derived from its runs like GitHub aggregates them, unless a test set
  them.
- The combined status is "failure" if any latest status per context failed or errored, "pending" if there
  is none or one is pending, else "success".
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from tests.fakes.github_rest_base import MAX_TEXT, Call, Handler, HttpError, Operations, Reply, invalid, lookup
from tests.fakes.github_state import Annotation, CheckRun, Pull, Repo, Status

MAX_ANNOTATIONS = 50
MAX_STATUS_DESCRIPTION = 140
SUITE_CONCLUSIONS = ["action_required", "cancelled", "timed_out", "failure", "stale", "neutral", "skipped", "success"]


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _suite_state(runs: list[CheckRun]) -> tuple[str, str | None]:
    """A suite's status/conclusion from its runs, like GitHub aggregates them."""
    if not runs or (any(r.status == "queued" for r in runs) and all(r.status == "queued" for r in runs)):
        return "queued", None
    if any(r.status != "completed" for r in runs):
        return "in_progress", None
    conclusions = [r.conclusion or "neutral" for r in runs]
    for conclusion in SUITE_CONCLUSIONS:
        if conclusion in conclusions:
            if conclusion in ("neutral", "skipped") and "success" in conclusions:
                return "completed", "success"
            return "completed", conclusion
    return "completed", "neutral"


def _validate_check_body(run: CheckRun, body: dict[str, Any]) -> None:
    """Refuse (422) a create/update body GitHub refuses although the schema allows it."""
    output = body.get("output")
    if output is not None:
        annotations = output.get("annotations") or []
        if len(annotations) > MAX_ANNOTATIONS:
            raise invalid(f"Only {MAX_ANNOTATIONS} annotations are allowed per request", "CheckRun", "annotations")
        for key in ("title", "summary", "text"):
            if len((output.get(key) or "").encode("utf-8")) > MAX_TEXT:
                raise invalid(f"output.{key} is too long (maximum is {MAX_TEXT} characters)", "CheckRun", key)
        for a in annotations:
            if a["start_line"] != a["end_line"] and ("start_column" in a or "end_column" in a):
                raise invalid(
                    "start_column and end_column may only be used when start_line equals end_line",
                    "CheckRun",
                    "annotations",
                )
    status, conclusion = body.get("status"), body.get("conclusion")
    if status == "completed" and conclusion is None and run.conclusion is None:
        raise invalid("conclusion is required when status is completed", "CheckRun", "conclusion")
    if conclusion is not None and status not in (None, "completed"):
        raise invalid("status must be completed when a conclusion is given", "CheckRun", "status")


def _annotation(a: dict[str, Any]) -> Annotation:
    return Annotation(
        path=a["path"],
        start_line=a["start_line"],
        end_line=a["end_line"],
        annotation_level=a["annotation_level"],
        message=a["message"],
        title=a.get("title"),
        raw_details=a.get("raw_details"),
        start_column=a.get("start_column"),
        end_column=a.get("end_column"),
    )


class CheckOperations(Operations):
    def handlers(self) -> dict[str, Handler]:
        return {
            "checks/create": self.create_check_run,
            "checks/get": self.get_check_run,
            "checks/update": self.update_check_run,
            "checks/list-annotations": self.list_annotations,
            "checks/list-for-ref": self.list_check_runs,
            "checks/list-suites-for-ref": self.list_check_suites,
            "repos/get-combined-status-for-ref": self.combined_status,
            "repos/create-commit-status": self.create_status,
        }

    def _apply_check_fields(self, run: CheckRun, body: dict[str, Any], creating: bool) -> None:
        """Apply a create/update body like GitHub: validate, then accumulate annotations."""
        _validate_check_body(run, body)
        status, conclusion, output = body.get("status"), body.get("conclusion"), body.get("output")
        for key in ("name", "details_url", "external_id"):
            if key in body:
                setattr(run, key, body[key])
        if "started_at" in body:
            run.started_at = _parse_time(body["started_at"])
        if status is not None:
            run.status = status
            if status != "queued" and run.started_at is None:
                run.started_at = self._now()
        if conclusion is not None:
            run.status = "completed"
            run.conclusion = conclusion
        if run.status == "completed":
            run.completed_at = _parse_time(body["completed_at"]) if "completed_at" in body else self._now()
            run.started_at = run.started_at or run.completed_at
        if output is not None:
            run.output = {k: output.get(k) for k in ("title", "summary", "text")}
            run.annotations.extend(_annotation(a) for a in output.get("annotations") or [])
        if "actions" in body:
            run.actions = copy.deepcopy(body["actions"])
        if creating and run.started_at is None:
            run.started_at = self._now()

    def _pulls_for_sha(self, repo: Repo, sha: str) -> list[Pull]:
        return [
            p for p in repo.pulls.values() if p.head_sha == sha and p.state == "open" and p.head_repo == repo.full_name
        ]

    def _run_body(self, repo: Repo, run: CheckRun) -> dict[str, Any]:
        app = self.world.apps.get(run.app_id)
        return self.bodies.check_run(repo, run, app, self._pulls_for_sha(repo, run.head_sha))

    def _run(self, call: Call) -> tuple[Repo, CheckRun]:
        repo = self._repo(call)
        return repo, lookup(self.world.check_runs, call.params["check_run_id"], repo)

    async def create_check_run(self, call: Call) -> Reply:
        repo = self._repo(call)
        app = self._caller_app(call)
        run = self.world.new_check_run(repo, app.id, call.body["name"], call.body["head_sha"])
        self._apply_check_fields(run, call.body, creating=True)
        self.world.check_runs[run.id] = run
        return Reply(201, self._run_body(repo, run))

    async def get_check_run(self, call: Call) -> Reply:
        repo, run = self._run(call)
        return Reply(200, self._run_body(repo, run))

    async def update_check_run(self, call: Call) -> Reply:
        repo, run = self._run(call)
        if run.app_id != self._caller_app(call).id:
            raise HttpError(403, f"Invalid app_id `{run.app_id}` - check run can only be modified by its creator")
        self._apply_check_fields(run, call.body or {}, creating=False)
        return Reply(200, self._run_body(repo, run))

    async def list_annotations(self, call: Call) -> Reply:
        repo, run = self._run(call)
        return self._paged(call, run.annotations, lambda a: self.bodies.annotation(repo, run, a))

    async def list_check_runs(self, call: Call) -> Reply:
        repo = self._repo(call)
        sha = repo.resolve_ref(call.params["ref"])
        runs = [r for r in self.world.check_runs.values() if r.repo == repo.full_name and r.head_sha == sha]
        q = call.query
        if "check_name" in q:
            runs = [r for r in runs if r.name == q["check_name"]]
        if "status" in q:
            runs = [r for r in runs if r.status == q["status"]]
        if "app_id" in q:
            runs = [r for r in runs if r.app_id == int(q["app_id"])]
        if q.get("filter", "latest") == "latest":
            latest: dict[tuple[int, str], CheckRun] = {}
            for run in runs:
                latest[(run.app_id, run.name)] = run
            runs = list(latest.values())
        runs.sort(key=lambda r: r.id, reverse=True)
        page, headers = self._page(call, runs)
        body = {"total_count": len(runs), "check_runs": [self._run_body(repo, r) for r in page]}
        return Reply(200, body, headers=headers)

    async def list_check_suites(self, call: Call) -> Reply:
        repo = self._repo(call)
        sha = repo.resolve_ref(call.params["ref"])
        suites = [s for s in self.world.check_suites.values() if s.repo == repo.full_name and s.head_sha == sha]
        runs_of = {s.id: [r for r in self.world.check_runs.values() if r.suite_id == s.id] for s in suites}
        if "app_id" in call.query:
            suites = [s for s in suites if s.app_id == int(call.query["app_id"])]
        if "check_name" in call.query:
            suites = [s for s in suites if any(r.name == call.query["check_name"] for r in runs_of[s.id])]
        page, headers = self._page(call, suites)
        bodies = []
        for suite in page:
            runs = runs_of[suite.id]
            status, conclusion = suite.status, suite.conclusion
            if status is None:
                status, conclusion = _suite_state(runs)
            app = self.world.apps.get(suite.app_id)
            bodies.append(self.bodies.check_suite(repo, suite, app, status, conclusion, len(runs)))
        return Reply(200, {"total_count": len(suites), "check_suites": bodies}, headers=headers)

    async def combined_status(self, call: Call) -> Reply:
        repo = self._repo(call)
        sha = repo.resolve_ref(call.params["ref"])
        latest: dict[str, Status] = {}
        for status in repo.statuses.get(sha, []):
            latest[status.context] = status
        states = [s.state for s in latest.values()]
        if any(s in ("error", "failure") for s in states):
            state = "failure"
        elif not states or "pending" in states:
            state = "pending"
        else:
            state = "success"
        items = sorted(latest.values(), key=lambda s: s.id, reverse=True)
        page, headers = self._page(call, items)
        statuses = [self.bodies.status(repo, sha, s, full=False) for s in page]
        return Reply(200, self.bodies.combined_status(repo, sha, state, statuses), headers=headers)

    async def create_status(self, call: Call) -> Reply:
        repo = self._repo(call)
        sha, body = call.params["sha"], call.body
        description = body.get("description")
        if description is not None and len(description) > MAX_STATUS_DESCRIPTION:
            raise invalid("description is too long (maximum is 140 characters)", "Status", "description")
        context = body.get("context") or "default"
        creator = self._actor(call)[0]
        status = self.world.add_status(repo, sha, body["state"], context, description, body.get("target_url"), creator)
        return Reply(201, self.bodies.status(repo, sha, status, full=True))
