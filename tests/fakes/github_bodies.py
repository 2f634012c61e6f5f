"""Response bodies of the fake GitHub, built from the REST description's own examples.

Every body starts as a deep copy of the example GitHub documents for that operation (or for the
embedded object), then the fields that carry the fake's state are overwritten: ids, numbers, names,
shas, states, timestamps, URLs of the objects the bot may follow. Anything not overwritten keeps the
example's value, so bodies look like GitHub's; FakeGitHub checks every body against the schema anyway.

Decisions:
- `url`-style fields of the objects the fake owns point at the fake (`api_url`); `html_url`s point at
  https://github.com like GitHub's.
- User ids are derived from the login (stable across a test), bots are typed "Bot".
- Examples that GitHub leaves inconsistent with its own schema (e.g. a repository without `language`,
  a team without `type`) are completed here, so the fake never sends what its contract forbids.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.github_state import (
    PERMISSION_OF_ROLE,
    Annotation,
    App,
    CheckRun,
    CheckSuite,
    Comment,
    Installation,
    Issue,
    Label,
    Pull,
    PullFile,
    Reaction,
    Repo,
    Review,
    Status,
)
from tests.fakes.openapi_check import OpenAPIChecker

HTML = "https://github.com"


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


def iso(ts: float | None) -> str | None:
    """GitHub's timestamp format, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_id(login: str) -> int:
    return int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)


def node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode()


class Bodies:
    """Builds JSON bodies from the description's examples (see module docstring)."""

    def __init__(self, checker: OpenAPIChecker, api_url: Callable[[], str]) -> None:
        self._checker = checker
        self._api_url = api_url
        self._cache: dict[tuple[str, str, str, str | None], Any] = {}

    @property
    def api(self) -> str:
        return self._api_url()

    def example(
        self, path: str, method: str, status: str, name: str | None = None, media: str = "application/json"
    ) -> Any:
        """A fresh deep copy of the example for one operation response."""
        key = (path, method, status, name)
        if key not in self._cache:
            response = self._checker.resolve(self._checker.spec["paths"][path][method]["responses"][status])
            examples = response["content"][media]["examples"]
            self._cache[key] = self._checker.example(examples[name or next(iter(examples))])
        return _copy(self._cache[key])

    # ---- people, apps, repositories ------------------------------------------------------------

    def user(self, login: str, kind: str | None = None) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}", "get", "200")["user"]
        ident = user_id(login)
        kind = kind or ("Bot" if login.endswith("[bot]") else "User")
        body.update(
            login=login,
            id=ident,
            node_id=node_id("User", ident),
            avatar_url=f"https://avatars.githubusercontent.com/u/{ident}?v=4",
            url=f"{self.api}/users/{login}",
            html_url=f"{HTML}/{login}",
            type=kind,
            site_admin=False,
        )
        for key in list(body):
            if key.endswith("_url") and key not in ("url", "html_url", "avatar_url"):
                body[key] = f"{self.api}/users/{login}/{key[:-4]}"
        return body

    def app(self, app: App) -> dict[str, Any]:
        body = self.example("/app", "get", "200")
        body.update(
            id=app.id,
            slug=app.slug,
            client_id=app.client_id,
            node_id=node_id("Integration", app.id),
            owner=self.user(app.owner, "Organization"),
            name=app.name,
            html_url=f"{HTML}/apps/{app.slug}",
            permissions=dict(app.permissions),
            events=list(app.events),
        )
        return body

    def installation(self, inst: Installation, app: App) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/installation", "get", "200")
        account = self.user(inst.account, inst.account_type)
        body.update(
            id=inst.id,
            app_id=app.id,
            app_slug=app.slug,
            client_id=app.client_id,
            target_id=account["id"],
            target_type=inst.account_type,
            account=account,
            repository_selection=inst.repository_selection,
            access_tokens_url=f"{self.api}/app/installations/{inst.id}/access_tokens",
            repositories_url=f"{self.api}/installation/repositories",
            html_url=f"{HTML}/organizations/{inst.account}/settings/installations/{inst.id}",
            permissions=dict(inst.permissions),
            events=list(app.events),
            suspended_at=None,
            suspended_by=None,
        )
        return body

    def _repo_fields(self, repo: Repo) -> dict[str, Any]:
        base = f"{self.api}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "fork": repo.fork,
            "url": base,
            "html_url": f"{HTML}/{repo.full_name}",
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archived": repo.archived,
            "allow_auto_merge": repo.allow_auto_merge,
            "allow_merge_commit": repo.allow_merge_commit,
            "allow_squash_merge": repo.allow_squash_merge,
            "allow_rebase_merge": repo.allow_rebase_merge,
            "delete_branch_on_merge": repo.delete_branch_on_merge,
            "clone_url": repo.clone_url or f"{HTML}/{repo.full_name}.git",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "svn_url": f"{HTML}/{repo.full_name}",
        }

    def repo_full(self, repo: Repo) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}", "get", "200")
        body.update(self._repo_fields(repo), owner=self.user(repo.owner, repo.owner_type))
        body.setdefault("language", None)
        for key in ("parent", "source", "template_repository", "organization"):
            body.pop(key, None)
        if repo.owner_type == "Organization":
            body["organization"] = self.user(repo.owner, "Organization")
        return body

    def repo_simple(self, repo: Repo) -> dict[str, Any]:
        """The `repository` object embedded in pulls and installation tokens."""
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}", "get", "200")["head"]["repo"]
        body.update(self._repo_fields(repo), owner=self.user(repo.owner, repo.owner_type))
        body.setdefault("language", None)
        body.pop("template_repository", None)
        return body

    def minimal_repo(self, repo: Repo) -> dict[str, Any]:
        """The `minimal-repository` object embedded in combined statuses and check suites."""
        body = self.example("/repos/{owner}/{repo}/commits/{ref}/status", "get", "200")["repository"]
        body.update(
            {k: v for k, v in self._repo_fields(repo).items() if k in body},
            owner=self.user(repo.owner, repo.owner_type),
        )
        return body

    # ---- issues, comments, labels, reactions ---------------------------------------------------

    def label(self, repo: Repo, label: Label) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post", "200")[0]
        body.update(
            id=label.id,
            node_id=node_id("Label", label.id),
            url=f"{self.api}/repos/{repo.full_name}/labels/{label.name}",
            name=label.name,
            description=label.description,
            color=label.color,
            default=False,
        )
        return body

    def issue(
        self, repo: Repo, issue: Issue, comments: int, closed_at: float | None = None
    ) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/{issue_number}", "get", "200")
        base = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        body.update(
            id=issue.id,
            node_id=node_id("Issue", issue.id),
            url=base,
            repository_url=f"{self.api}/repos/{repo.full_name}",
            labels_url=f"{base}/labels{{/name}}",
            comments_url=f"{base}/comments",
            events_url=f"{base}/events",
            html_url=f"{HTML}/{repo.full_name}/{'pull' if issue.is_pull else 'issues'}/{issue.number}",
            number=issue.number,
            state=issue.state,
            state_reason=None,
            title=issue.title,
            body=issue.body,
            user=self.user(issue.user),
            labels=[self.label(repo, repo.labels[name]) for name in issue.labels if name in repo.labels],
            assignee=None,
            assignees=[],
            milestone=None,
            locked=False,
            active_lock_reason=None,
            comments=comments,
            closed_at=iso(closed_at),
            closed_by=None,
            created_at=iso(issue.created_at),
            updated_at=iso(issue.updated_at),
            author_association="CONTRIBUTOR",
        )
        body.pop("pinned_comment", None)
        if issue.is_pull:
            body["pull_request"] = {
                "url": f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}",
                "html_url": f"{HTML}/{repo.full_name}/pull/{issue.number}",
                "diff_url": f"{HTML}/{repo.full_name}/pull/{issue.number}.diff",
                "patch_url": f"{HTML}/{repo.full_name}/pull/{issue.number}.patch",
                "merged_at": None,
            }
        else:
            body.pop("pull_request", None)
        return body

    def comment(self, repo: Repo, comment: Comment) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/comments/{comment_id}", "get", "200")
        body.update(
            id=comment.id,
            node_id=node_id("IssueComment", comment.id),
            url=f"{self.api}/repos/{repo.full_name}/issues/comments/{comment.id}",
            html_url=f"{HTML}/{repo.full_name}/issues/{comment.issue_number}#issuecomment-{comment.id}",
            issue_url=f"{self.api}/repos/{repo.full_name}/issues/{comment.issue_number}",
            body=comment.body,
            user=self.user(comment.user, comment.user_type),
            created_at=iso(comment.created_at),
            updated_at=iso(comment.updated_at),
            author_association="NONE" if comment.user_type == "Bot" else "CONTRIBUTOR",
        )
        body.pop("pin", None)
        return body

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "post", "201")
        body.update(
            id=reaction.id,
            node_id=node_id("Reaction", reaction.id),
            user=self.user(reaction.user),
            content=reaction.content,
            created_at=iso(reaction.created_at),
        )
        return body

    # ---- pulls ---------------------------------------------------------------------------------

    def _branch(self, repo: Repo | None, ref: str, sha: str, fallback_owner: str) -> dict[str, Any]:
        owner = repo.owner if repo else fallback_owner
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(owner, repo.owner_type if repo else None),
            "repo": self.repo_simple(repo) if repo else None,
        }

    def pull(self, repo: Repo, pull: Pull, head_repo: Repo | None, labels: list[Label], full: bool) -> dict:
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}", "get", "200")
        api = f"{self.api}/repos/{repo.full_name}"
        html = f"{HTML}/{repo.full_name}/pull/{pull.number}"
        body.update(
            url=f"{api}/pulls/{pull.number}",
            id=pull.id,
            node_id=pull.node_id,
            html_url=html,
            diff_url=f"{html}.diff",
            patch_url=f"{html}.patch",
            issue_url=f"{api}/issues/{pull.number}",
            commits_url=f"{api}/pulls/{pull.number}/commits",
            review_comments_url=f"{api}/pulls/{pull.number}/comments",
            review_comment_url=f"{api}/pulls/comments{{/number}}",
            comments_url=f"{api}/issues/{pull.number}/comments",
            statuses_url=f"{api}/statuses/{pull.head_sha}",
            number=pull.number,
            state=pull.state,
            locked=False,
            active_lock_reason=None,
            title=pull.title,
            body=pull.body,
            user=self.user(pull.user),
            # the pull request schema's labels, unlike the issue's, have a non-nullable description
            labels=[dict(self.label(repo, label), description=label.description or "") for label in labels],
            milestone=None,
            assignee=None,
            assignees=[],
            requested_reviewers=[],
            requested_teams=[],
            created_at=iso(pull.created_at),
            updated_at=iso(pull.updated_at),
            closed_at=iso(pull.merged_at) if pull.state == "closed" else None,
            merged_at=iso(pull.merged_at),
            merge_commit_sha=pull.merge_commit_sha,
            draft=pull.draft,
            head=self._branch(head_repo, pull.head_ref, pull.head_sha, repo.owner),
            base=self._branch(repo, pull.base_ref, pull.base_sha, repo.owner),
            author_association="CONTRIBUTOR",
            auto_merge=self._auto_merge(pull.auto_merge),
        )
        links = body["_links"]
        links["self"]["href"] = body["url"]
        links["html"]["href"] = html
        links["issue"]["href"] = body["issue_url"]
        links["comments"]["href"] = body["comments_url"]
        links["review_comments"]["href"] = body["review_comments_url"]
        links["review_comment"]["href"] = body["review_comment_url"]
        links["commits"]["href"] = body["commits_url"]
        links["statuses"]["href"] = body["statuses_url"]
        if full:
            body.update(
                merged=pull.merged,
                mergeable=pull.mergeable,
                mergeable_state=pull.mergeable_state,
                rebaseable=pull.mergeable,
                merged_by=self.user(pull.merged_by) if pull.merged_by else None,
                maintainer_can_modify=pull.maintainer_can_modify,
                comments=0,
                review_comments=0,
                commits=1,
                additions=sum(f.additions for f in pull.files),
                deletions=sum(f.deletions for f in pull.files),
                changed_files=len(pull.files),
            )
        else:
            for key in (
                "merged",
                "mergeable",
                "mergeable_state",
                "rebaseable",
                "merged_by",
                "maintainer_can_modify",
                "comments",
                "review_comments",
                "commits",
                "additions",
                "deletions",
                "changed_files",
            ):
                body.pop(key, None)
        return body

    def _auto_merge(self, state: dict[str, Any] | None) -> dict[str, Any] | None:
        if state is None:
            return None
        return {
            "enabled_by": self.user(state["enabled_by"]["login"]),
            "merge_method": state["merge_method"],
            "commit_title": state.get("commit_title") or "",
            "commit_message": state.get("commit_message") or "",
        }

    def pull_file(self, repo: Repo, ref: str, f: PullFile) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}/files", "get", "200")[0]
        body.update(
            sha=f.sha,
            filename=f.filename,
            status=f.status,
            additions=f.additions,
            deletions=f.deletions,
            changes=f.additions + f.deletions,
            blob_url=f"{HTML}/{repo.full_name}/blob/{ref}/{f.filename}",
            raw_url=f"{HTML}/{repo.full_name}/raw/{ref}/{f.filename}",
            contents_url=f"{self.api}/repos/{repo.full_name}/contents/{f.filename}?ref={ref}",
        )
        if f.patch is None:
            body.pop("patch", None)
        else:
            body["patch"] = f.patch
        if f.previous_filename:
            body["previous_filename"] = f.previous_filename
        return body

    def review(self, repo: Repo, pull: Pull, review: Review) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "get", "200")[0]
        html = f"{HTML}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review.id}"
        body.update(
            id=review.id,
            node_id=node_id("PullRequestReview", review.id),
            user=self.user(review.user),
            body=review.body,
            state=review.state,
            commit_id=review.commit_id,
            html_url=html,
            pull_request_url=f"{self.api}/repos/{repo.full_name}/pulls/{pull.number}",
            submitted_at=iso(review.submitted_at),
            author_association="COLLABORATOR",
        )
        body["_links"] = {"html": {"href": html}, "pull_request": {"href": body["pull_request_url"]}}
        return body

    # ---- checks and statuses -------------------------------------------------------------------

    def check_run(self, repo: Repo, run: CheckRun, app: App | None, pulls: list[Pull]) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/check-runs/{check_run_id}", "get", "200")
        url = f"{self.api}/repos/{repo.full_name}/check-runs/{run.id}"
        output = {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.annotations),
            "annotations_url": f"{url}/annotations",
        }
        body.update(
            id=run.id,
            node_id=node_id("CheckRun", run.id),
            head_sha=run.head_sha,
            external_id=run.external_id,
            url=url,
            html_url=f"{HTML}/{repo.full_name}/runs/{run.id}",
            details_url=run.details_url,
            status=run.status,
            conclusion=run.conclusion,
            started_at=iso(run.started_at),
            completed_at=iso(run.completed_at),
            output=output,
            name=run.name,
            check_suite={"id": run.suite_id},
            app=self.app(app) if app else None,
            pull_requests=[self._check_pull(repo, p) for p in pulls],
        )
        return body

    def _check_pull(self, repo: Repo, pull: Pull) -> dict[str, Any]:
        repo_ref = {"id": repo.id, "url": f"{self.api}/repos/{repo.full_name}", "name": repo.name}
        return {
            "url": f"{self.api}/repos/{repo.full_name}/pulls/{pull.number}",
            "id": pull.id,
            "number": pull.number,
            "head": {"ref": pull.head_ref, "sha": pull.head_sha, "repo": dict(repo_ref)},
            "base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": dict(repo_ref)},
        }

    def annotation(self, repo: Repo, run: CheckRun, a: Annotation) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", "get", "200")[0]
        body.update(
            path=a.path,
            start_line=a.start_line,
            end_line=a.end_line,
            start_column=a.start_column,
            end_column=a.end_column,
            annotation_level=a.annotation_level,
            title=a.title,
            message=a.message,
            raw_details=a.raw_details,
            blob_href=f"{HTML}/{repo.full_name}/blob/{run.head_sha}/{a.path}",
        )
        return body

    def check_suite(
        self, repo: Repo, suite: CheckSuite, app: App | None, status: str, conclusion: str | None, runs: int
    ) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/commits/{ref}/check-suites", "get", "200")["check_suites"][
            0
        ]
        body.update(
            id=suite.id,
            node_id=node_id("CheckSuite", suite.id),
            head_branch=suite.head_branch,
            head_sha=suite.head_sha,
            status=status,
            conclusion=conclusion,
            url=f"{self.api}/repos/{repo.full_name}/check-suites/{suite.id}",
            before=None,
            after=suite.head_sha,
            pull_requests=[],
            app=self.app(app) if app else None,
            repository=self.minimal_repo(repo),
            created_at=iso(suite.created_at),
            updated_at=iso(suite.created_at),
            latest_check_runs_count=runs,
            check_runs_url=f"{self.api}/repos/{repo.full_name}/check-suites/{suite.id}/check-runs",
        )
        body["head_commit"]["id"] = suite.head_sha
        return body

    def status(self, repo: Repo, sha: str, status: Status, full: bool) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/statuses/{sha}", "post", "201")
        body.update(
            url=f"{self.api}/repos/{repo.full_name}/statuses/{sha}",
            avatar_url=None,
            id=status.id,
            node_id=node_id("StatusContext", status.id),
            state=status.state,
            description=status.description,
            target_url=status.target_url,
            context=status.context,
            created_at=iso(status.created_at),
            updated_at=iso(status.created_at),
            creator=self.user(status.creator),
        )
        if not full:
            body.pop("creator", None)
        return body

    def combined_status(self, repo: Repo, sha: str, state: str, statuses: list[dict[str, Any]]) -> dict:
        body = self.example("/repos/{owner}/{repo}/commits/{ref}/status", "get", "200")
        body.update(
            state=state,
            statuses=statuses,
            sha=sha,
            total_count=len(statuses),
            repository=self.minimal_repo(repo),
            commit_url=f"{self.api}/repos/{repo.full_name}/commits/{sha}",
            url=f"{self.api}/repos/{repo.full_name}/commits/{sha}/status",
        )
        return body

    # ---- contents, collaborators, protection ----------------------------------------------------

    def content_file(self, repo: Repo, path: str, ref: str, content: bytes, sha: str) -> dict[str, Any]:
        body = self.example(
            "/repos/{owner}/{repo}/contents/{path}", "get", "200", "response-if-content-is-a-file"
        )
        encoded = base64.b64encode(content).decode()
        wrapped = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
        body.update(self._content_common(repo, path, ref, sha, "file", len(content)))
        body.update(encoding="base64", content=wrapped)
        return body

    def content_entry(self, repo: Repo, path: str, ref: str, kind: str, size: int, sha: str) -> dict:
        body = self.example(
            "/repos/{owner}/{repo}/contents/{path}", "get", "200", "response-if-content-is-a-directory"
        )[0]
        body.update(self._content_common(repo, path, ref, sha, kind, size))
        return body

    def _content_common(self, repo: Repo, path: str, ref: str, sha: str, kind: str, size: int) -> dict:
        url = f"{self.api}/repos/{repo.full_name}/contents/{path}?ref={ref}"
        git = f"{self.api}/repos/{repo.full_name}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
        html = f"{HTML}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
        return {
            "type": kind,
            "size": size,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": url,
            "git_url": git,
            "html_url": html,
            "download_url": (
                f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}" if kind == "file" else None
            ),
            "_links": {"self": url, "git": git, "html": html},
        }

    def permission(self, login: str, role: str) -> dict[str, Any]:
        body = self.example(
            "/repos/{owner}/{repo}/collaborators/{username}/permission",
            "get",
            "200",
            "response-if-user-has-admin-permissions",
        )
        permission = PERMISSION_OF_ROLE.get(role, "none")
        user = self.user(login)
        user["role_name"] = role
        user["permissions"] = {
            "admin": role == "admin",
            "maintain": role in ("admin", "maintain"),
            "push": permission in ("admin", "write"),
            "triage": role in ("admin", "maintain", "write", "triage"),
            "pull": permission != "none",
        }
        body.update(permission=permission, role_name=role, user=user)
        return body
