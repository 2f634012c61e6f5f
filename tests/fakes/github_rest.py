"""The fake GitHub's REST operations: one handler per operationId of rest-subset.json.

A handler gets a `Call` (already contract-checked and authenticated by FakeGitHub) and returns a `Reply`
or raises `HttpError`. Handlers enforce what GitHub enforces beyond the schema, e.g. at most 50
annotations per request, `sha` guards on merge, a required conclusion for completed check runs, and who
may call what (App JWT vs installation token).

Decisions:
- Lists are paginated like GitHub (`per_page` default 30, max 100, `page`), with a `Link` header.
- Comments, check runs, statuses and reactions created with an installation token are authored by the
  app's bot user ("<slug>[bot]").
- A merge is refused (405) when the pull request is closed, merged, a draft, `mergeable` is False or
  `mergeable_state` is "dirty", "blocked" or "draft"; `sha` that is not the head gives 409.
- `update-branch` simulates GitHub merging the base into the head: the head gets a new sha.
- Adding a label the repository lacks creates it (GitHub does).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from tests.fakes.github_auth import Credentials, new_token
from tests.fakes.github_bodies import Bodies, iso
from tests.fakes.github_state import (
    Annotation,
    App,
    CheckRun,
    Comment,
    Comparison,
    Issue,
    Label,
    Pull,
    Reaction,
    Repo,
    Status,
    Token,
    World,
    blob_sha,
)

DOCS = "https://docs.github.com/rest"
LEVELS = {"read": 1, "write": 2, "admin": 3}
MAX_ANNOTATIONS = 50
MAX_OUTPUT_TEXT = 65535
JSON = "application/json; charset=utf-8"
NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible to the parent installation."
)


class HttpError(Exception):
    """An error answer; the body is GitHub's basic-error (or validation-error when `errors` is given)."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "documentation_url": DOCS,
            "status": str(self.status),
        }
        if self.errors is not None:
            body.pop("status")
            body["errors"] = self.errors
        return body


@dataclass
class Call:
    """One authenticated, contract-checked request."""

    operation_id: str
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    headers: Mapping[str, str]
    creds: Credentials


@dataclass
class Reply:
    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Reply]]


def _not_found() -> HttpError:
    return HttpError(404, "Not Found")


def _invalid(message: str, resource: str, field_name: str, code: str = "invalid") -> HttpError:
    return HttpError(422, message, [{"resource": resource, "field": field_name, "code": code}])


class RestOperations:
    """Handlers for every REST operation the fake serves, keyed by operationId in `handlers`."""

    def __init__(self, world: World, bodies: Bodies, api_url: Callable[[], str]) -> None:
        self.world = world
        self.bodies = bodies
        self._api_url = api_url
        self.handlers: dict[str, Handler] = {
            "apps/get-authenticated": self.get_app,
            "apps/create-installation-access-token": self.create_token,
            "apps/create-from-manifest": self.manifest_conversion,
            "rate-limit/get": self.rate_limit,
            "repos/get": self.get_repo,
            "apps/get-repo-installation": self.repo_installation,
            "checks/create": self.create_check_run,
            "checks/get": self.get_check_run,
            "checks/update": self.update_check_run,
            "checks/list-annotations": self.list_annotations,
            "checks/list-for-ref": self.list_check_runs,
            "checks/list-suites-for-ref": self.list_check_suites,
            "repos/get-combined-status-for-ref": self.combined_status,
            "repos/create-commit-status": self.create_status,
            "issues/get": self.get_issue,
            "issues/list-comments": self.list_comments,
            "issues/create-comment": self.create_comment,
            "issues/add-labels": self.add_labels,
            "issues/remove-label": self.remove_label,
            "issues/update-comment": self.update_comment,
            "issues/get-comment": self.get_comment,
            "reactions/create-for-issue-comment": self.create_reaction,
            "repos/get-content": self.get_content,
            "pulls/list": self.list_pulls,
            "pulls/get": self.get_pull,
            "pulls/list-files": self.list_files,
            "pulls/list-reviews": self.list_reviews,
            "pulls/merge": self.merge,
            "pulls/update-branch": self.update_branch,
            "repos/compare-commits-with-basehead": self.compare,
            "repos/get-collaborator-permission-level": self.permission,
            "repos/get-branch-protection": self.protection,
            "repos/get-status-checks-protection": self.status_checks,
            "repos/get-branch-rules": self.branch_rules,
            "git/delete-ref": self.delete_ref,
        }

    # ---- shared ------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.world.clock()

    def _app(self, app_id: int) -> App | None:
        return self.world.apps.get(app_id)

    def _caller_app(self, call: Call) -> App:
        assert call.creds.token is not None
        inst = self.world.installations[call.creds.token.installation_id]
        return self.world.apps[inst.app_id]

    def _actor(self, call: Call) -> tuple[str, str]:
        """(login, type) of whoever writes: the app's bot for installation tokens."""
        return self._caller_app(call).bot_login, "Bot"

    def _repo(self, call: Call) -> Repo:
        return self.world.repos[f"{call.params['owner']}/{call.params['repo']}"]

    def _issue(self, repo: Repo, number: str) -> Issue:
        issue = repo.issues.get(int(number))
        if issue is None:
            raise _not_found()
        return issue

    def _pull(self, repo: Repo, number: str) -> Pull:
        pull = repo.pulls.get(int(number))
        if pull is None:
            raise _not_found()
        return pull

    def _page(self, call: Call, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """GitHub pagination: the slice for ?page/per_page and a Link header."""
        per_page = max(1, min(100, int(call.query.get("per_page", 30))))
        page = max(1, int(call.query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                query = dict(call.query, page=str(number), per_page=str(per_page))
                links.append(f'<{self._api_url()}{quote(call.path)}?{urlencode(query)}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page : page * per_page], headers

    def _labels_of(self, repo: Repo, issue: Issue) -> list[Label]:
        return [repo.labels[name] for name in issue.labels if name in repo.labels]

    def _pulls_for_sha(self, repo: Repo, sha: str) -> list[Pull]:
        return [
            p
            for p in repo.pulls.values()
            if p.head_sha == sha and p.state == "open" and p.head_repo == repo.full_name
        ]

    def _run_body(self, repo: Repo, run: CheckRun) -> dict[str, Any]:
        return self.bodies.check_run(
            repo, run, self._app(run.app_id), self._pulls_for_sha(repo, run.head_sha)
        )

    # ---- apps and tokens ---------------------------------------------------------------------------

    async def get_app(self, call: Call) -> Reply:
        assert call.creds.app is not None
        return Reply(200, self.bodies.app(call.creds.app))

    async def create_token(self, call: Call) -> Reply:
        assert call.creds.app is not None
        inst = self.world.installations.get(int(call.params["installation_id"]))
        if inst is None or inst.app_id != call.creds.app.id:
            raise _not_found()
        if inst.suspended:
            raise HttpError(403, "This installation has been suspended")
        body = call.body or {}
        repos: list[str] | None = None
        if body.get("repositories") or body.get("repository_ids"):
            repos = []
            for name in body.get("repositories") or []:
                full = f"{inst.account}/{name}"
                if full not in inst.repos:
                    raise _invalid(
                        NOT_ACCESSIBLE,
                        "Installation",
                        "repositories",
                    )
                repos.append(full)
            for ident in body.get("repository_ids") or []:
                match = [r for r in inst.repos if r in self.world.repos and self.world.repos[r].id == ident]
                if not match:
                    raise _invalid(
                        NOT_ACCESSIBLE,
                        "Installation",
                        "repository_ids",
                    )
                repos.extend(match)
        requested = body.get("permissions") or {}
        for key, level in requested.items():
            if LEVELS.get(inst.permissions.get(key, ""), 0) < LEVELS.get(level, 3):
                raise _invalid(
                    "The permissions requested are not granted to this installation.",
                    "Installation",
                    "permissions",
                )
        permissions = dict(requested) if requested else dict(inst.permissions)
        token = Token(new_token(), inst.id, self._now() + self.world.token_ttl, repos, permissions)
        self.world.tokens[token.token] = token
        reply = self.bodies.example("/app/installations/{installation_id}/access_tokens", "post", "201")
        reply.update(
            token=token.token,
            expires_at=iso(token.expires_at),
            permissions=permissions,
            repository_selection="selected" if repos is not None else inst.repository_selection,
        )
        if repos is None:
            reply.pop("repositories", None)
        else:
            reply["repositories"] = [self.bodies.repo_simple(self.world.repos[r]) for r in repos]
        return Reply(201, reply)

    async def manifest_conversion(self, call: Call) -> Reply:
        app = self.world.manifest_codes.pop(call.params["code"], None)
        if app is None:
            raise _not_found()
        self.world.apps[app.id] = app
        body = self.bodies.example("/app-manifests/{code}/conversions", "post", "201")
        body.update(self.bodies.app(app))
        body.update(
            client_id=app.client_id,
            client_secret=app.client_secret,
            webhook_secret=app.webhook_secret,
            pem=app.private_key_pem,
        )
        return Reply(201, body)

    async def rate_limit(self, call: Call) -> Reply:
        body = self.bodies.example("/rate_limit", "get", "200")
        reset = int(self._now()) + 3600
        for resource in [body["rate"], *body["resources"].values()]:
            resource["reset"] = reset
        return Reply(200, body)

    async def repo_installation(self, call: Call) -> Reply:
        assert call.creds.app is not None
        full = f"{call.params['owner']}/{call.params['repo']}"
        inst = self.world.installation_for(full)
        if inst is None or inst.app_id != call.creds.app.id:
            raise _not_found()
        return Reply(200, self.bodies.installation(inst, call.creds.app))

    async def get_repo(self, call: Call) -> Reply:
        return Reply(200, self.bodies.repo_full(self._repo(call)))

    # ---- check runs and suites ---------------------------------------------------------------------

    def _apply_check_fields(self, run: CheckRun, body: dict[str, Any], creating: bool) -> None:
        """Apply a create/update body like GitHub: validate, then accumulate annotations."""
        output = body.get("output")
        if output is not None:
            annotations = output.get("annotations") or []
            if len(annotations) > MAX_ANNOTATIONS:
                raise _invalid(
                    f"Only {MAX_ANNOTATIONS} annotations are allowed per request", "CheckRun", "annotations"
                )
            for key in ("title", "summary", "text"):
                if len(output.get(key) or "") > MAX_OUTPUT_TEXT:
                    raise _invalid(
                        f"output.{key} is too long (maximum is {MAX_OUTPUT_TEXT} characters)", "CheckRun", key
                    )
            for a in annotations:
                if a["start_line"] != a["end_line"] and ("start_column" in a or "end_column" in a):
                    raise _invalid(
                        "start_column and end_column may only be used when start_line equals end_line",
                        "CheckRun",
                        "annotations",
                    )
        status = body.get("status")
        conclusion = body.get("conclusion")
        if status == "completed" and conclusion is None and run.conclusion is None:
            raise _invalid("conclusion is required when status is completed", "CheckRun", "conclusion")
        if conclusion is not None and status not in (None, "completed"):
            raise _invalid("status must be completed when a conclusion is given", "CheckRun", "status")
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
            run.annotations.extend(
                Annotation(
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
                for a in output.get("annotations") or []
            )
        if "actions" in body:
            run.actions = copy.deepcopy(body["actions"])
        if creating and run.started_at is None:
            run.started_at = self._now()

    async def create_check_run(self, call: Call) -> Reply:
        repo = self._repo(call)
        app = self._caller_app(call)
        head_sha = call.body["head_sha"]
        branch = next((b for b, sha in repo.branches.items() if sha == head_sha), None)
        suite = self.world.suite_for(repo.full_name, app.id, head_sha, branch)
        run = CheckRun(
            self.world.ids.next_id(), repo.full_name, app.id, call.body["name"], head_sha, suite.id
        )
        self._apply_check_fields(run, call.body, creating=True)
        self.world.check_runs[run.id] = run
        return Reply(201, self._run_body(repo, run))

    def _run(self, call: Call) -> tuple[Repo, CheckRun]:
        repo = self._repo(call)
        run = self.world.check_runs.get(int(call.params["check_run_id"]))
        if run is None or run.repo != repo.full_name:
            raise _not_found()
        return repo, run

    async def get_check_run(self, call: Call) -> Reply:
        repo, run = self._run(call)
        return Reply(200, self._run_body(repo, run))

    async def update_check_run(self, call: Call) -> Reply:
        repo, run = self._run(call)
        if run.app_id != self._caller_app(call).id:
            raise HttpError(
                403, f"Invalid app_id `{run.app_id}` - check run can only be modified by its creator"
            )
        self._apply_check_fields(run, call.body or {}, creating=False)
        return Reply(200, self._run_body(repo, run))

    async def list_annotations(self, call: Call) -> Reply:
        repo, run = self._run(call)
        page, headers = self._page(call, run.annotations)
        return Reply(200, [self.bodies.annotation(repo, run, a) for a in page], headers=headers)

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
        suites = [
            s for s in self.world.check_suites.values() if s.repo == repo.full_name and s.head_sha == sha
        ]
        if "app_id" in call.query:
            suites = [s for s in suites if s.app_id == int(call.query["app_id"])]
        if "check_name" in call.query:
            suites = [
                s
                for s in suites
                if any(
                    r.suite_id == s.id and r.name == call.query["check_name"]
                    for r in self.world.check_runs.values()
                )
            ]
        page, headers = self._page(call, suites)
        bodies = []
        for suite in page:
            runs = [r for r in self.world.check_runs.values() if r.suite_id == suite.id]
            status, conclusion = suite.status, suite.conclusion
            if status is None:
                status, conclusion = _suite_state(runs)
            bodies.append(
                self.bodies.check_suite(repo, suite, self._app(suite.app_id), status, conclusion, len(runs))
            )
        return Reply(200, {"total_count": len(suites), "check_suites": bodies}, headers=headers)

    # ---- statuses ----------------------------------------------------------------------------------

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
        sha = call.params["sha"]
        body = call.body
        description = body.get("description")
        if description is not None and len(description) > 140:
            raise _invalid("description is too long (maximum is 140 characters)", "Status", "description")
        status = Status(
            self.world.ids.next_id(),
            body["state"],
            body.get("context") or "default",
            description,
            body.get("target_url"),
            self._actor(call)[0],
            self._now(),
        )
        repo.statuses.setdefault(sha, []).append(status)
        return Reply(201, self.bodies.status(repo, sha, status, full=True))

    # ---- issues, comments, labels, reactions ---------------------------------------------------------

    def _comments_on(self, repo: Repo, number: int) -> list[Comment]:
        return sorted(
            (
                c
                for c in self.world.comments.values()
                if c.repo == repo.full_name and c.issue_number == number
            ),
            key=lambda c: c.id,
        )

    async def get_issue(self, call: Call) -> Reply:
        repo = self._repo(call)
        issue = self._issue(repo, call.params["issue_number"])
        return Reply(200, self.bodies.issue(repo, issue, len(self._comments_on(repo, issue.number))))

    async def list_comments(self, call: Call) -> Reply:
        repo = self._repo(call)
        issue = self._issue(repo, call.params["issue_number"])
        comments = self._comments_on(repo, issue.number)
        page, headers = self._page(call, comments)
        return Reply(200, [self.bodies.comment(repo, c) for c in page], headers=headers)

    async def create_comment(self, call: Call) -> Reply:
        repo = self._repo(call)
        issue = self._issue(repo, call.params["issue_number"])
        if len(call.body["body"]) > MAX_OUTPUT_TEXT:
            raise _invalid("Body is too long (maximum is 65536 characters)", "IssueComment", "body")
        login, kind = self._actor(call)
        now = self._now()
        comment = Comment(
            self.world.ids.next_id(), repo.full_name, issue.number, call.body["body"], login, kind, now, now
        )
        self.world.comments[comment.id] = comment
        return Reply(201, self.bodies.comment(repo, comment))

    def _comment(self, call: Call) -> tuple[Repo, Comment]:
        repo = self._repo(call)
        comment = self.world.comments.get(int(call.params["comment_id"]))
        if comment is None or comment.repo != repo.full_name:
            raise _not_found()
        return repo, comment

    async def get_comment(self, call: Call) -> Reply:
        repo, comment = self._comment(call)
        return Reply(200, self.bodies.comment(repo, comment))

    async def update_comment(self, call: Call) -> Reply:
        repo, comment = self._comment(call)
        if len(call.body["body"]) > MAX_OUTPUT_TEXT:
            raise _invalid("Body is too long (maximum is 65536 characters)", "IssueComment", "body")
        comment.body = call.body["body"]
        comment.updated_at = self._now()
        return Reply(200, self.bodies.comment(repo, comment))

    async def create_reaction(self, call: Call) -> Reply:
        _, comment = self._comment(call)
        login, _ = self._actor(call)
        content = call.body["content"]
        for reaction in comment.reactions:
            if reaction.user == login and reaction.content == content:
                return Reply(200, self.bodies.reaction(reaction))
        reaction = Reaction(self.world.ids.next_id(), content, login, self._now())
        comment.reactions.append(reaction)
        return Reply(201, self.bodies.reaction(reaction))

    async def add_labels(self, call: Call) -> Reply:
        repo = self._repo(call)
        issue = self._issue(repo, call.params["issue_number"])
        names = [
            item if isinstance(item, str) else item["name"] for item in (call.body or {}).get("labels", [])
        ]
        for name in names:
            if name not in repo.labels:
                repo.labels[name] = Label(self.world.ids.next_id(), name)
            if name not in issue.labels:
                issue.labels.append(name)
        issue.updated_at = self._now()
        return Reply(200, [self.bodies.label(repo, label) for label in self._labels_of(repo, issue)])

    async def remove_label(self, call: Call) -> Reply:
        repo = self._repo(call)
        issue = self._issue(repo, call.params["issue_number"])
        name = call.params["name"]
        if name not in issue.labels:
            raise HttpError(404, "Label does not exist")
        issue.labels.remove(name)
        issue.updated_at = self._now()
        return Reply(200, [self.bodies.label(repo, label) for label in self._labels_of(repo, issue)])

    # ---- contents ----------------------------------------------------------------------------------

    async def get_content(self, call: Call) -> Reply:
        repo = self._repo(call)
        ref = call.query.get("ref") or repo.default_branch
        tree = repo.files_at(ref)
        if tree is None:
            raise HttpError(404, f"No commit found for the ref {ref}")
        path = call.params["path"].strip("/")
        if path in tree:
            content = tree[path]
            return Reply(200, self.bodies.content_file(repo, path, ref, content, blob_sha(content)))
        prefix = f"{path}/" if path else ""
        children: dict[str, tuple[str, int, str]] = {}
        for file_path, content in tree.items():
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :]
            child = rest.split("/", 1)[0]
            if "/" in rest:
                children.setdefault(child, ("dir", 0, blob_sha(child.encode())))
            else:
                children[child] = ("file", len(content), blob_sha(content))
        if not children:
            raise _not_found()
        entries = [
            self.bodies.content_entry(repo, f"{prefix}{name}", ref, kind, size, sha)
            for name, (kind, size, sha) in sorted(children.items())
        ]
        return Reply(200, entries)

    # ---- pulls ---------------------------------------------------------------------------------------

    def _pull_body(self, repo: Repo, pull: Pull, full: bool) -> dict[str, Any]:
        issue = repo.issues.get(pull.number)
        labels = self._labels_of(repo, issue) if issue else []
        head_repo = self.world.repos.get(pull.head_repo) if pull.head_repo else None
        return self.bodies.pull(repo, pull, head_repo, labels, full)

    async def list_pulls(self, call: Call) -> Reply:
        repo = self._repo(call)
        q = call.query
        pulls = list(repo.pulls.values())
        state = q.get("state", "open")
        if state != "all":
            pulls = [p for p in pulls if p.state == state]
        if "head" in q:
            owner, _, ref = q["head"].partition(":")
            pulls = [p for p in pulls if p.head_ref == ref and (p.head_repo or "").split("/")[0] == owner]
        if "base" in q:
            pulls = [p for p in pulls if p.base_ref == q["base"]]
        reverse = q.get("direction", "desc") == "desc"
        pulls.sort(key=lambda p: p.number, reverse=reverse)
        page, headers = self._page(call, pulls)
        return Reply(200, [self._pull_body(repo, p, full=False) for p in page], headers=headers)

    async def get_pull(self, call: Call) -> Reply:
        repo = self._repo(call)
        pull = self._pull(repo, call.params["pull_number"])
        return Reply(200, self._pull_body(repo, pull, full=True))

    async def list_files(self, call: Call) -> Reply:
        repo = self._repo(call)
        pull = self._pull(repo, call.params["pull_number"])
        page, headers = self._page(call, pull.files)
        return Reply(200, [self.bodies.pull_file(repo, pull.head_sha, f) for f in page], headers=headers)

    async def list_reviews(self, call: Call) -> Reply:
        repo = self._repo(call)
        pull = self._pull(repo, call.params["pull_number"])
        page, headers = self._page(call, pull.reviews)
        return Reply(200, [self.bodies.review(repo, pull, r) for r in page], headers=headers)

    async def merge(self, call: Call) -> Reply:
        repo = self._repo(call)
        pull = self._pull(repo, call.params["pull_number"])
        body = call.body or {}
        method = body.get("merge_method", "merge")
        allowed = {
            "merge": repo.allow_merge_commit,
            "squash": repo.allow_squash_merge,
            "rebase": repo.allow_rebase_merge,
        }
        if pull.merged or pull.state != "open":
            raise HttpError(405, "Pull Request is not mergeable")
        if "sha" in body and body["sha"] != pull.head_sha:
            raise HttpError(409, "Head branch was modified. Review and try the merge again.")
        if pull.draft or not pull.mergeable or pull.mergeable_state in ("dirty", "blocked", "draft"):
            raise HttpError(405, "Pull Request is not mergeable")
        if not allowed.get(method, False):
            raise HttpError(405, f"{method.capitalize()} merges are not allowed on this repository.")
        sha = self.world.ids.next_sha()
        pull.merged, pull.state, pull.merge_commit_sha = True, "closed", sha
        pull.merged_at = pull.updated_at = self._now()
        pull.merged_by = self._actor(call)[0]
        pull.auto_merge = None
        if pull.number in repo.issues:
            repo.issues[pull.number].state = "closed"
        repo.branches[pull.base_ref] = sha
        if pull.base_ref in repo.files and pull.head_repo == repo.full_name and pull.head_ref in repo.files:
            repo.files[pull.base_ref] = dict(repo.files[pull.head_ref])
        reply = self.bodies.example("/repos/{owner}/{repo}/pulls/{pull_number}/merge", "put", "200")
        reply.update(sha=sha, merged=True, message="Pull Request successfully merged")
        return Reply(200, reply)

    async def update_branch(self, call: Call) -> Reply:
        repo = self._repo(call)
        pull = self._pull(repo, call.params["pull_number"])
        expected = (call.body or {}).get("expected_head_sha")
        if expected is not None and expected != pull.head_sha:
            raise _invalid(
                "expected_head_sha does not match the pull request's head", "PullRequest", "expected_head_sha"
            )
        if pull.state != "open":
            raise _invalid("Pull request is closed", "PullRequest", "state")
        pull.head_sha = self.world.ids.next_sha()
        pull.updated_at = self._now()
        head = self.world.repos.get(pull.head_repo or "")
        if head is not None and pull.head_ref in head.branches:
            head.branches[pull.head_ref] = pull.head_sha
        if pull.mergeable_state == "behind":
            pull.mergeable_state = "clean"
        reply = self.bodies.example("/repos/{owner}/{repo}/pulls/{pull_number}/update-branch", "put", "202")
        reply["url"] = f"{self._api_url()}/repos/{repo.full_name}/pulls/{pull.number}"
        return Reply(202, reply)

    # ---- compare, permissions, protection, refs ---------------------------------------------------------

    async def compare(self, call: Call) -> Reply:
        repo = self._repo(call)
        base, sep, head = call.params["basehead"].partition("...")
        if not sep:
            raise _not_found()
        base_sha = repo.resolve_ref(base.split(":")[-1])
        head_sha = repo.resolve_ref(head.split(":")[-1])
        comparison = repo.comparisons.get((base, head)) or repo.comparisons.get((base_sha, head_sha))
        if comparison is None:
            comparison = Comparison("identical", 0, 0) if base_sha == head_sha else Comparison()
        accept = next((v for k, v in call.headers.items() if k.lower() == "accept"), "")
        for media in ("application/vnd.github.diff", "application/vnd.github.patch"):
            if media in accept:
                return Reply(200, raw=comparison.diff.encode(), content_type=f"{media}; charset=utf-8")
        body = self.bodies.example("/repos/{owner}/{repo}/compare/{basehead}", "get", "200")
        html = f"https://github.com/{repo.full_name}/compare/{base}...{head}"
        body.update(
            url=f"{self._api_url()}/repos/{repo.full_name}/compare/{base}...{head}",
            html_url=html,
            permalink_url=html,
            diff_url=f"{html}.diff",
            patch_url=f"{html}.patch",
            status=comparison.status,
            ahead_by=comparison.ahead_by,
            behind_by=comparison.behind_by,
            total_commits=comparison.ahead_by,
            files=[self.bodies.pull_file(repo, head_sha, f) for f in comparison.files],
        )
        body["base_commit"]["sha"] = base_sha
        body["merge_base_commit"]["sha"] = base_sha
        commits = body.get("commits") or []
        body["commits"] = [dict(commits[0], sha=head_sha)] if commits and comparison.ahead_by else []
        return Reply(200, body)

    async def permission(self, call: Call) -> Reply:
        repo = self._repo(call)
        login = call.params["username"]
        role = repo.collaborators.get(login, "none")
        return Reply(200, self.bodies.permission(login, role))

    def _protection(self, call: Call) -> tuple[Repo, str, Any]:
        repo = self._repo(call)
        branch = call.params["branch"]
        protection = repo.protections.get(branch)
        if protection is None:
            raise HttpError(404, "Branch not protected")
        return repo, branch, protection

    def _status_checks_body(self, repo: Repo, branch: str, contexts: list[str], strict: bool) -> dict:
        branch_url = f"{self._api_url()}/repos/{repo.full_name}/branches/{quote(branch, safe='')}"
        url = f"{branch_url}/protection/required_status_checks"
        body = self.bodies.example(
            "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks", "get", "200"
        )
        body.update(
            url=url,
            strict=strict,
            contexts=list(contexts),
            checks=[{"context": c, "app_id": None} for c in contexts],
            contexts_url=f"{url}/contexts",
        )
        return body

    async def protection(self, call: Call) -> Reply:
        repo, branch, protection = self._protection(call)
        body = self.bodies.example("/repos/{owner}/{repo}/branches/{branch}/protection", "get", "200")
        url = f"{self._api_url()}/repos/{repo.full_name}/branches/{quote(branch, safe='')}/protection"
        body["url"] = url
        if protection.required_contexts is None:
            body.pop("required_status_checks", None)
        else:
            rsc = self._status_checks_body(repo, branch, protection.required_contexts, protection.strict)
            rsc.pop("enforcement_level", None)
            body["required_status_checks"] = rsc
        body["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": protection.enforce_admins}
        if protection.required_approving_review_count is None:
            body.pop("required_pull_request_reviews", None)
        else:
            body["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews",
                "dismiss_stale_reviews": False,
                "require_code_owner_reviews": False,
                "required_approving_review_count": protection.required_approving_review_count,
                "require_last_push_approval": False,
            }
        body.pop("restrictions", None)
        for key in ("required_linear_history", "allow_force_pushes", "allow_deletions", "lock_branch"):
            body[key] = {"enabled": False}
        return Reply(200, body)

    async def status_checks(self, call: Call) -> Reply:
        repo, branch, protection = self._protection(call)
        if protection.required_contexts is None:
            raise HttpError(404, "Required status checks not enabled")
        return Reply(
            200, self._status_checks_body(repo, branch, protection.required_contexts, protection.strict)
        )

    async def branch_rules(self, call: Call) -> Reply:
        repo = self._repo(call)
        rules = repo.rules.get(call.params["branch"], [])
        detailed = [
            {
                "ruleset_source_type": "Repository",
                "ruleset_source": repo.full_name,
                "ruleset_id": 1,
                **copy.deepcopy(r),
            }
            for r in rules
        ]
        page, headers = self._page(call, detailed)
        return Reply(200, page, headers=headers)

    async def delete_ref(self, call: Call) -> Reply:
        repo = self._repo(call)
        ref = call.params["ref"]
        if not ref.startswith("heads/") or ref[len("heads/") :] not in repo.branches:
            raise HttpError(422, "Reference does not exist", [])
        branch = ref[len("heads/") :]
        del repo.branches[branch]
        repo.files.pop(branch, None)
        repo.deleted_refs.append(ref)
        return Reply(204)


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _suite_state(runs: list[CheckRun]) -> tuple[str, str | None]:
    """A suite's status/conclusion from its runs, like GitHub aggregates them."""
    if not runs or (any(r.status == "queued" for r in runs) and all(r.status == "queued" for r in runs)):
        return "queued", None
    if any(r.status != "completed" for r in runs):
        return "in_progress", None
    order = ["action_required", "cancelled", "timed_out", "failure", "stale", "neutral", "skipped", "success"]
    conclusions = [r.conclusion or "neutral" for r in runs]
    for conclusion in order:
        if conclusion in conclusions:
            if conclusion in ("neutral", "skipped") and "success" in conclusions:
                return "completed", "success"
            return "completed", conclusion
    return "completed", "neutral"


__all__ = ["Call", "HttpError", "Reply", "RestOperations"]
