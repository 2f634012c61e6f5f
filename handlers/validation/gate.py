"""Should this pull request's head commit be validated now? A pure decision.

- a closed pull request: skip;
- a draft: skip, unless `merge.validate_drafts` is true or a person asked explicitly (`/codegen validate`);
- untrusted code — the head is in another repository (a fork, or a deleted fork) and either the PR's
  author or the owner of the head repository (who pushes to it; GitHub does not name the pusher of a
  fork's commit) has less than `write` permission on the base repository — is **held** until a user with
  write permission approves that exact head SHA (`/codegen ok-to-test` or the check run's button). A new
  push needs a new approval (Prow's `/ok-to-test`, per commit). So a maintainer's PR opened from a
  stranger's fork is held too: the stranger can push to it.
- otherwise: run.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.github.permissions import permission_at_least


@dataclass(frozen=True)
class PullState:
    open: bool
    draft: bool
    head_repo: str | None
    base_repo: str
    author: str
    author_permission: str
    approved_by: str | None
    #: the head repository's owner and their permission on the base repository (forks only)
    head_owner: str | None = None
    head_owner_permission: str = "none"


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


def from_fork(pr: PullState) -> bool:
    return pr.head_repo is None or pr.head_repo.lower() != pr.base_repo.lower()


def untrusted_people(pr: PullState) -> list[str]:
    """Who could have put the head's code there without write access (empty: trusted)."""
    if not from_fork(pr):
        return []
    people = [] if permission_at_least(pr.author_permission, "write") else [pr.author]
    if pr.head_owner is None or not permission_at_least(pr.head_owner_permission, "write"):
        owner = pr.head_owner or "(a deleted fork)"
        if owner not in people:
            people.append(owner)
    return people


def is_untrusted(pr: PullState) -> bool:
    return bool(untrusted_people(pr))


def decide_validation(pr: PullState, *, validate_drafts: bool, requested: bool) -> Decision:
    if not pr.open:
        return Skip("the pull request is closed")
    if pr.draft and not validate_drafts and not requested:
        return Skip("drafts are not validated (`merge.validate_drafts: false`); comment `/codegen validate` to run it")
    people = untrusted_people(pr)
    if people:
        if pr.approved_by is None:
            who = " and ".join(f"@{p}" for p in people)
            return Hold(
                f"{who} {'does' if len(people) == 1 else 'do'} not have write access and this code comes from a"
                " fork, so it is not run until a maintainer with write access approves this commit: comment"
                " `/codegen ok-to-test` or press **Approve and run**."
            )
        return Run(f"approved by @{pr.approved_by}")
    return Run("trusted")
