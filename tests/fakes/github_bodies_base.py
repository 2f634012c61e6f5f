"""The base of the fake GitHub's body builder: examples, ids, and the objects every family embeds
(users, apps, installations, repositories, labels), plus contents and collaborator permissions.

See github_bodies.py for how bodies are built and the decisions.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.github_state import PERMISSION_OF_ROLE, App, Installation, Label, Repo
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


class BodiesBase:
    """Builds JSON bodies from the description's examples (see github_bodies.py)."""

    def __init__(self, checker: OpenAPIChecker, api_url: Callable[[], str]) -> None:
        self._checker = checker
        self._api_url = api_url
        self._cache: dict[tuple[str, str, str, str | None], Any] = {}

    @property
    def api(self) -> str:
        return self._api_url()

    def repo_url(self, repo: Repo) -> str:
        """The API URL of a repository of the fake."""
        return f"{self.api}/repos/{repo.full_name}"

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
        base = self.repo_url(repo)
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

    # ---- labels, contents, collaborators ------------------------------------------------------

    def label(self, repo: Repo, label: Label) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post", "200")[0]
        body.update(
            id=label.id,
            node_id=node_id("Label", label.id),
            url=f"{self.repo_url(repo)}/labels/{label.name}",
            name=label.name,
            description=label.description,
            color=label.color,
            default=False,
        )
        return body

    def content_file(self, repo: Repo, path: str, ref: str, content: bytes, sha: str) -> dict[str, Any]:
        body = self.example(
            "/repos/{owner}/{repo}/contents/{path}", "get", "200", "response-if-content-is-a-file"
        )
        encoded = base64.b64encode(content).decode()
        wrapped = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
        body.update(self._content_common(repo, path, ref, sha, "file", len(content)))
        body.update(encoding="base64", content=wrapped)
        return body

    def content_entry(self, repo: Repo, path: str, ref: str, kind: str, size: int, sha: str) -> dict[str, Any]:
        body = self.example(
            "/repos/{owner}/{repo}/contents/{path}", "get", "200", "response-if-content-is-a-directory"
        )[0]
        body.update(self._content_common(repo, path, ref, sha, kind, size))
        return body

    def _content_common(self, repo: Repo, path: str, ref: str, sha: str, kind: str, size: int) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/contents/{path}?ref={ref}"
        git = f"{self.repo_url(repo)}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
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
