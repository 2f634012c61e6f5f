"""Recorded webhook payloads, re-pointed at the fake GitHub's state (repo, installation, PR, comment)."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.fakes.github_bodies import iso
from tests.support.webhooks import payload


def repository(data: dict[str, Any], full_name: str) -> None:
    owner, name = full_name.split("/", 1)
    repo = data["repository"]
    repo["full_name"] = full_name
    repo["name"] = name
    repo["owner"]["login"] = owner
    repo["clone_url"] = f"https://github.example/{full_name}.git"
    repo["default_branch"] = "main"  # the fake's repositories' default branch (the recorded payloads say "master")


def pull_request_event(
    fake: FakeGitHub, full_name: str, number: int, installation_id: int, action: str = "opened",
    sender: str = "octocat",
) -> dict[str, Any]:
    """`pull_request/opened.payload.json` rewritten to describe the fake's PR `number` in `full_name`."""
    data = copy.deepcopy(payload("pull_request/opened"))
    data["action"] = action
    repository(data, full_name)
    data["installation"] = {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
    pull = fake.repo(full_name).pulls[number]
    pr = data["pull_request"]
    pr["number"] = number
    pr["node_id"] = pull.node_id  # GraphQL mutations name the pull request by it
    data["number"] = number
    pr["state"] = pull.state
    pr["draft"] = pull.draft
    pr["title"] = pull.title
    pr["user"]["login"] = pull.user
    pr["head"]["sha"] = pull.head_sha
    pr["head"]["ref"] = pull.head_ref
    pr["head"]["repo"] = copy.deepcopy(data["repository"])
    repository({"repository": pr["head"]["repo"]}, pull.head_repo or full_name)
    pr["base"]["ref"] = pull.base_ref
    pr["base"]["repo"] = copy.deepcopy(data["repository"])
    data["sender"]["login"] = sender
    return data


def issue_comment_event(
    fake: FakeGitHub, full_name: str, number: int, installation_id: int, body: str, *, user: str = "octocat",
    user_type: str = "User", comment_id: int | None = None,
) -> dict[str, Any]:
    """`issue_comment/created.payload.json` for a comment on the fake's issue or PR `number`."""
    data = copy.deepcopy(payload("issue_comment/created"))
    repository(data, full_name)
    data["installation"] = {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
    issue = fake.repo(full_name).issues[number]
    data["issue"]["number"] = number
    data["issue"]["title"] = issue.title
    data["issue"]["body"] = issue.body
    data["issue"]["html_url"] = f"https://github.example/{full_name}/issues/{number}"
    if getattr(issue, "is_pull", False):
        data["issue"]["pull_request"] = {"url": f"https://api.github.example/repos/{full_name}/pulls/{number}"}
    else:
        data["issue"].pop("pull_request", None)
    comment = fake.add_comment(full_name, number, body, user=user)
    data["comment"]["id"] = comment_id or comment.id
    data["comment"]["body"] = body
    data["comment"]["user"]["login"] = user
    data["comment"]["user"]["type"] = user_type
    # written now, as GitHub stamps it (the recorded payload's 2019 date would predate every commit)
    data["comment"]["created_at"] = data["comment"]["updated_at"] = iso(comment.created_at)
    data["sender"]["login"] = user
    return data


def review_comment_event(
    fake: FakeGitHub, full_name: str, number: int, installation_id: int, body: str, *, user: str = "octocat",
) -> dict[str, Any]:
    """`pull_request_review_comment/created` for a new review comment (a new thread) on the fake's PR."""
    data = copy.deepcopy(payload("pull_request_review_comment/created"))
    repository(data, full_name)
    data["installation"] = {"id": installation_id}
    data["pull_request"]["number"] = number
    comment = fake.add_review_comment(full_name, number, body, user=user)
    data["comment"].update(id=comment.id, body=body, created_at=iso(comment.created_at))
    data["comment"]["user"]["login"] = user
    data["comment"]["user"]["type"] = "User"
    data["sender"]["login"] = user
    return data


def review_event(
    fake: FakeGitHub, full_name: str, number: int, installation_id: int, body: str, *, user: str = "octocat",
) -> dict[str, Any]:
    """`pull_request_review/submitted` whose review body is `body`, on the fake's PR."""
    data = copy.deepcopy(payload("pull_request_review/submitted"))
    repository(data, full_name)
    data["installation"] = {"id": installation_id}
    data["pull_request"]["number"] = number
    review = fake.add_review(full_name, number, user=user, state="COMMENTED", body=body)
    data["review"].update(id=review.id, body=body, submitted_at=iso(review.submitted_at))
    data["review"]["user"]["login"] = user
    data["review"]["user"]["type"] = "User"
    data["sender"]["login"] = user
    return data


def check_run_event(
    fake: FakeGitHub, full_name: str, installation_id: int, run: Any, action: str = "completed",
    pull_numbers: list[int] | None = None, **extra: Any,
) -> dict[str, Any]:
    """`check_run/<action>` for the fake's check run `run`. `pull_numbers` fills `pull_requests` (each with
    this repository as its base); None leaves it empty, as GitHub sends it for a fork's head."""
    data = copy.deepcopy(payload(f"check_run/{action}"))
    repository(data, full_name)
    repo_id = fake.repo(full_name).id
    data["installation"] = {"id": installation_id}
    data["repository"]["id"] = repo_id
    known = fake.repo(full_name).pulls
    pulls = [{"number": n, "base": {"ref": known[n].base_ref if n in known else "main", "repo": {"id": repo_id}}}
             for n in pull_numbers or []]
    data["check_run"].update(id=run.id, name=run.name, head_sha=run.head_sha, status="completed",
                             conclusion=run.conclusion, pull_requests=pulls)
    data.update(extra)
    return data


def merge_group_event(
    full_name: str, installation_id: int, *, head_sha: str, base_sha: str, pr_number: int, base: str = "main",
    action: str = "checks_requested", reason: str | None = None,
) -> dict[str, Any]:
    """`merge_group/checks_requested.payload.json` for a queue entry of PR `pr_number` into `base`. The
    `destroyed` action is the same payload with a `reason` (`merged`, `invalidated` or `dequeued`: GitHub's
    webhook description of `merge_group.destroyed`; octokit/webhooks has no recorded example of it)."""
    data = copy.deepcopy(payload("merge_group/checks_requested"))
    data["action"] = action
    repository(data, full_name)
    data["installation"] = {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
    group = data["merge_group"]
    group["head_sha"], group["base_sha"] = head_sha, base_sha
    group["head_ref"] = f"refs/heads/gh-readonly-queue/{base}/pr-{pr_number}-{base_sha}"
    group["base_ref"] = f"refs/heads/{base}"
    group["head_commit"]["id"] = head_sha
    if reason is not None:
        data["reason"] = reason
    return data
