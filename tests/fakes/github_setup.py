"""Setting up the fake GitHub's world for a test: repositories and what is in them.

`GitHubSetup` is FakeGitHub's base for the setup methods of repository content (see github.py for the
whole API): repositories, branches and files, labels, issues and pull requests, comments, reviews,
collaborators, branch protection and rules (a merge queue: `require_merge_queue`, read with `queued`),
commit statuses, check runs and suites by other apps, and comparisons; `back_with_git` puts a real git
repository behind a repository, `close_pull` closes a pull request; organization teams (`add_team_member`)
come from github_rest_orgs.TeamSetup. Each creates what it needs (a
missing repository, branch or label) and returns the object it made, which tests may go on mutating.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.fakes.github_git import attach_git
from tests.fakes.github_graphql_queue import leave_queue, queued_pulls
from tests.fakes.github_rest_orgs import TeamSetup
from tests.fakes.github_rest_review_comments import ReviewComment
from tests.fakes.github_state import (
    App,
    CheckRun,
    CheckSuite,
    Comment,
    Comparison,
    Issue,
    IssueEvent,
    Label,
    Protection,
    Pull,
    PullFile,
    Repo,
    Review,
    Status,
    World,
    blob_sha,
    pull_files,
)


class GitHubSetup(TeamSetup):
    """Setup methods; needs `world` and `app` (the fake's own app) from FakeGitHub."""

    world: World
    app: App

    def repo(self, full_name: str) -> Repo:
        return self.world.repos[full_name]

    def add_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        installation_id: int | None = None,
        **flags: Any,
    ) -> Repo:
        """A repository, created if missing; `flags` set Repo fields (private=True, archived=True...)."""
        repo = self.world.repos.get(full_name)
        if repo is None:
            owner, name = full_name.split("/", 1)
            repo = Repo(self.world.ids.next_id(), owner, name, default_branch=default_branch)
            repo.branches[default_branch] = self.world.ids.next_sha()
            repo.files[default_branch] = {}
            self.world.repos[full_name] = repo
        for key, value in flags.items():
            if not hasattr(repo, key):
                raise AttributeError(f"Repo has no field {key!r}")
            setattr(repo, key, value)
        if installation_id is not None:
            inst = self.world.installations[installation_id]
            if full_name not in inst.repos:
                inst.repos.append(full_name)
        return repo

    def add_branch(self, full_name: str, branch: str, sha: str | None = None) -> str:
        repo = self.add_repo(full_name)
        repo.branches[branch] = sha or self.world.ids.next_sha()
        repo.files.setdefault(branch, dict(repo.files.get(repo.default_branch, {})))
        return repo.branches[branch]

    def set_file(self, full_name: str, path: str, content: str | bytes, *, ref: str | None = None) -> str:
        """Put a file at a branch (created if missing) or at a sha; returns its blob sha."""
        repo = self.add_repo(full_name)
        ref = ref or repo.default_branch
        data = content.encode() if isinstance(content, str) else content
        is_sha = len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)
        if not is_sha and ref not in repo.branches:
            self.add_branch(full_name, ref)
        repo.files.setdefault(ref, {})[path.strip("/")] = data
        return blob_sha(data)

    def back_with_git(self, full_name: str, path: Path) -> None:
        """From now on the repository's comparisons, merges and branch updates happen in the git repository at
        `path` (github_git.py): branches resolve to its `refs/heads/*`, pull request heads must be published
        there as `refs/pull/N/head`. Fake branches git also has take git's heads."""
        attach_git(self.add_repo(full_name), Path(path))

    def close_pull(self, full_name: str, number: int) -> Pull:
        """A person closes the pull request without merging it: it and its issue are closed and it leaves the
        merge queue."""
        repo = self.repo(full_name)
        pull = repo.pulls[number]
        pull.state = repo.issues[number].state = "closed"
        pull.updated_at = self.world.clock()
        leave_queue(repo, pull)
        return pull

    def add_label(
        self, full_name: str, name: str, color: str = "ededed", description: str | None = None
    ) -> Label:
        repo = self.add_repo(full_name)
        label = repo.labels.get(name) or Label(self.world.ids.next_id(), name, color, description)
        repo.labels[name] = label
        return label

    def add_issue(
        self,
        full_name: str,
        *,
        number: int | None = None,
        title: str = "An issue",
        body: str | None = "",
        user: str = "octocat",
        labels: Iterable[str] = (),
        state: str = "open",
    ) -> Issue:
        repo = self.add_repo(full_name)
        number = number or repo.take_number()
        repo.next_number = max(repo.next_number, number + 1)
        now = self.world.clock()
        issue = Issue(number, self.world.ids.next_id(), title, body, user, state, [], False, now, now)
        for name in labels:
            self.add_label(full_name, name)
            issue.labels.append(name)
        repo.issues[number] = issue
        return issue

    def add_pull(
        self,
        full_name: str,
        *,
        number: int | None = None,
        title: str = "A change",
        body: str | None = "",
        user: str = "octocat",
        head_ref: str = "feature",
        head_sha: str | None = None,
        head_repo: str | None = None,
        base_ref: str | None = None,
        draft: bool = False,
        mergeable: bool | None = True,
        mergeable_state: str = "clean",
        labels: Iterable[str] = (),
        files: Iterable[PullFile | str] = (),
        state: str = "open",
    ) -> Pull:
        """An open pull request (also an issue). `head_repo` another full name makes it a fork's."""
        repo = self.add_repo(full_name)
        issue = self.add_issue(
            full_name, number=number, title=title, body=body, user=user, labels=labels, state=state
        )
        issue.is_pull = True
        head_full = head_repo or full_name
        head = self.add_repo(head_full, fork=head_full != full_name) if head_full else None
        head_sha = head_sha or self.world.ids.next_sha()
        if head is not None:
            self.add_branch(head_full, head_ref, head_sha)
        base_ref = base_ref or repo.default_branch
        pull = Pull(
            number=issue.number,
            id=self.world.ids.next_id(),
            node_id=f"PR_kwDO{issue.id:08d}",
            title=title,
            body=body,
            user=user,
            head_ref=head_ref,
            head_sha=head_sha,
            head_repo=head_full,
            base_ref=base_ref,
            base_sha=repo.branches.get(base_ref) or self.world.ids.next_sha(),
            state=state,
            draft=draft,
            mergeable=mergeable,
            mergeable_state="draft" if draft and mergeable_state == "clean" else mergeable_state,
            files=pull_files(files),
            created_at=issue.created_at,
            updated_at=issue.updated_at,
        )
        repo.pulls[pull.number] = pull
        return pull

    def add_comment(self, full_name: str, issue_number: int, body: str, *, user: str = "octocat") -> Comment:
        repo = self.add_repo(full_name)
        if issue_number not in repo.issues:
            raise KeyError(f"{full_name} has no issue #{issue_number}")
        kind = "Bot" if user.endswith("[bot]") else "User"
        return self.world.add_comment(full_name, issue_number, body, user, kind)

    def label_issue(self, full_name: str, number: int, name: str, *, actor: str, remove: bool = False) -> None:
        """A person adds (or removes) a label on an issue or pull request, as the web UI would."""
        repo = self.repo(full_name)
        issue = repo.issues[number]
        if name not in repo.labels:  # like the UI, a new label is created on first use
            repo.labels[name] = Label(self.world.ids.next_id(), name)
        if remove:
            issue.labels.remove(name)
        elif name not in issue.labels:
            issue.labels.append(name)
        now = self.world.clock()
        issue.events.append(IssueEvent(self.world.ids.next_id(), "unlabeled" if remove else "labeled", actor,
                                       name, now))
        issue.updated_at = now

    def add_review_comment(
        self, full_name: str, number: int, body: str, *, user: str = "octocat", path: str = "README.md",
        line: int = 1,
    ) -> ReviewComment:
        """A review comment someone wrote on a line of pull request `number`'s diff (a new thread)."""
        pull = self.repo(full_name).pulls[number]
        kind = "Bot" if user.endswith("[bot]") else "User"
        comment = ReviewComment(self.world.ids.next_id(), full_name, number, body, user, kind, path, line,
                                pull.head_sha, self.world.clock())
        self.world.review_comments[comment.id] = comment
        return comment

    def set_permission(self, full_name: str, user: str, role: str) -> None:
        """role: admin, maintain, write, triage, read or none."""
        self.add_repo(full_name).collaborators[user] = role

    def protect_branch(
        self,
        full_name: str,
        branch: str,
        *,
        required_contexts: Iterable[str] | None = None,
        strict: bool = False,
        required_approving_review_count: int | None = None,
        enforce_admins: bool = False,
    ) -> Protection:
        protection = Protection(
            list(required_contexts) if required_contexts is not None else None,
            strict,
            required_approving_review_count,
            enforce_admins,
        )
        self.add_repo(full_name).protections[branch] = protection
        return protection

    def set_branch_rules(self, full_name: str, branch: str, rules: Iterable[Mapping[str, Any]]) -> None:
        """Rules as GitHub's `repository-rule` objects, e.g. {"type": "required_status_checks", "parameters":
        {"required_status_checks": [{"context": "ci"}], "strict_required_status_checks_policy": False}}."""
        self.add_repo(full_name).rules[branch] = [dict(r) for r in rules]

    def require_merge_queue(self, full_name: str, branch: str, **parameters: Any) -> dict[str, Any]:
        """Add a "merge_queue" rule (GitHub's `repository-rule-merge-queue`) to the branch's rules, replacing
        any earlier one; `parameters` override the defaults below. Returns the stored rule (REST serves it with
        the repository as its ruleset source added)."""
        defaults: dict[str, Any] = {  # plausible values of the ruleset form, all required by the schema
            "check_response_timeout_minutes": 60,
            "grouping_strategy": "ALLGREEN",
            "max_entries_to_build": 5,
            "max_entries_to_merge": 5,
            "merge_method": "MERGE",
            "min_entries_to_merge": 1,
            "min_entries_to_merge_wait_minutes": 5,
        }
        unknown = set(parameters) - set(defaults)
        if unknown:
            raise TypeError(f"merge_queue rule has no parameters {sorted(unknown)}")
        rule = {"type": "merge_queue", "parameters": {**defaults, **parameters}}
        rules = self.add_repo(full_name).rules.setdefault(branch, [])
        rules[:] = [r for r in rules if r.get("type") != "merge_queue"] + [rule]
        return rule

    def queued(self, full_name: str, branch: str | None = None) -> list[int]:
        """Numbers of the repository's pull requests in a merge queue (of one base branch, or of all: by
        base branch name, then position), in position order."""
        return [pull.number for pull in queued_pulls(self.repo(full_name), branch)]

    def add_review(
        self,
        full_name: str,
        number: int,
        *,
        user: str,
        state: str = "APPROVED",
        body: str = "",
        commit_id: str | None = None,
    ) -> Review:
        pull = self.repo(full_name).pulls[number]
        review = Review(
            self.world.ids.next_id(), user, state, commit_id or pull.head_sha, body, self.world.clock()
        )
        pull.reviews.append(review)
        return review

    def add_status(
        self,
        full_name: str,
        sha: str,
        context: str,
        state: str,
        *,
        description: str | None = None,
        target_url: str | None = None,
        creator: str = "ci-bot",
    ) -> Status:
        return self.world.add_status(self.add_repo(full_name), sha, state, context, description, target_url, creator)

    def _other_app(self, slug: str) -> App:
        for app in self.world.apps.values():
            if app.slug == slug:
                return app
        app = App(self.world.ids.next_id(), slug, slug, "github", "", "", "", "", "", {}, [])
        self.world.apps[app.id] = app
        return app

    def add_check_run(
        self,
        full_name: str,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = "success",
        app_slug: str | None = None,
        output: Mapping[str, Any] | None = None,
    ) -> CheckRun:
        """A check run by another app (default "github-actions"; the fake's own slug means the fake's app)."""
        app = self._other_app(app_slug or "github-actions")
        now = self.world.clock()
        done = status == "completed"
        run = self.world.new_check_run(
            self.add_repo(full_name),
            app.id,
            name,
            head_sha,
            status=status,
            conclusion=conclusion if done else None,
            started_at=now,
            completed_at=now if done else None,
            output=dict(output or {}),
        )
        self.world.check_runs[run.id] = run
        return run

    def add_check_suite(
        self,
        full_name: str,
        head_sha: str,
        *,
        app_slug: str = "github-actions",
        status: str | None = None,
        conclusion: str | None = None,
    ) -> CheckSuite:
        """A check suite; status None derives it from the suite's runs."""
        app = self._other_app(app_slug)
        repo = self.add_repo(full_name)
        suite = self.world.suite_for(full_name, app.id, head_sha, repo.branch_of(head_sha))
        suite.status, suite.conclusion = status, conclusion
        return suite

    def set_comparison(
        self,
        full_name: str,
        base: str,
        head: str,
        *,
        status: str = "ahead",
        ahead_by: int = 1,
        behind_by: int = 0,
        files: Iterable[PullFile | str] = (),
        diff: str = "",
    ) -> Comparison:
        comparison = Comparison(status, ahead_by, behind_by, pull_files(files), diff)
        self.add_repo(full_name).comparisons[(base, head)] = comparison
        return comparison
