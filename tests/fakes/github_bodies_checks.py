"""Bodies of check runs, annotations, check suites and commit statuses (see github_bodies.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.github_bodies_base import HTML, BodiesBase, iso, node_id
from tests.fakes.github_state import Annotation, App, CheckRun, CheckSuite, Pull, Repo, Status


class CheckBodies(BodiesBase):
    def check_run(self, repo: Repo, run: CheckRun, app: App | None, pulls: list[Pull]) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/check-runs/{check_run_id}", "get", "200")
        url = f"{self.repo_url(repo)}/check-runs/{run.id}"
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
        repo_ref = {"id": repo.id, "url": self.repo_url(repo), "name": repo.name}
        return {
            "url": f"{self.repo_url(repo)}/pulls/{pull.number}",
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
            url=f"{self.repo_url(repo)}/check-suites/{suite.id}",
            before=None,
            after=suite.head_sha,
            pull_requests=[],
            app=self.app(app) if app else None,
            repository=self.minimal_repo(repo),
            created_at=iso(suite.created_at),
            updated_at=iso(suite.created_at),
            latest_check_runs_count=runs,
            check_runs_url=f"{self.repo_url(repo)}/check-suites/{suite.id}/check-runs",
        )
        body["head_commit"]["id"] = suite.head_sha
        return body

    def status(self, repo: Repo, sha: str, status: Status, full: bool) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/statuses/{sha}", "post", "201")
        body.update(
            url=f"{self.repo_url(repo)}/statuses/{sha}",
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

    def combined_status(self, repo: Repo, sha: str, state: str, statuses: list[dict[str, Any]]) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/commits/{ref}/status", "get", "200")
        body.update(
            state=state,
            statuses=statuses,
            sha=sha,
            total_count=len(statuses),
            repository=self.minimal_repo(repo),
            commit_url=f"{self.repo_url(repo)}/commits/{sha}",
            url=f"{self.repo_url(repo)}/commits/{sha}/status",
        )
        return body
