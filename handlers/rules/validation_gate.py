"""Should this pull request's head commit be validated now? A pure decision.

- a closed pull request: skip;
- a draft: skip, unless `merge.validate_drafts` is true or a person asked explicitly (`/codegen validate`);
- untrusted code — the head is in another repository (a fork, or a deleted fork) and the PR's author has
  less than `write` permission on the base repository — is **held** until a user with write permission
  approves that exact head SHA (`/codegen ok-to-test` or the check run's button). A new push needs a new
  approval (Prow's `/ok-to-test`, per commit).
- otherwise: run.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.rules.permissions import permission_at_least


@dataclass(frozen=True)
class PullState:
    open: bool
    draft: bool
    head_repo: str | None
    base_repo: str
    author: str
    author_permission: str
    approved_by: str | None


@dataclass(frozen=True)
class Run:
    reason: str


@dataclass(frozen=True)
class Hold:
    reason: str


@dataclass(frozen=True)
class Skip:
    reason: str


Decision = Run | Hold | Skip


def is_untrusted(pr: PullState) -> bool:
    from_fork = pr.head_repo is None or pr.head_repo.lower() != pr.base_repo.lower()
    return from_fork and not permission_at_least(pr.author_permission, "write")


def decide_validation(pr: PullState, *, validate_drafts: bool, requested: bool) -> Decision:
    if not pr.open:
        return Skip("the pull request is closed")
    if pr.draft and not validate_drafts and not requested:
        return Skip("drafts are not validated (`merge.validate_drafts: false`); comment `/codegen validate` to run it")
    if is_untrusted(pr):
        if pr.approved_by is None:
            return Hold(
                f"@{pr.author} does not have write access and this code comes from a fork, so it is not run"
                " until a maintainer with write access approves this commit: comment `/codegen ok-to-test`"
                " or press **Approve and run**."
            )
        return Run(f"approved by @{pr.approved_by}")
    return Run("trusted")
