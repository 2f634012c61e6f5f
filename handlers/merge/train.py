"""The bot's own merge train (`merge.train: true`, for repositories without GitHub's merge queue).

Two pull requests can each pass alone and break `main` together (one renames what the other calls). The
train never lets that land: ready pull requests merge one at a time, in the order they became ready, and
each is validated *on top of the current base* before it merges.

- A pull request whose decision is *merge* (every required check passed on its validated head) boards the
  train: it gets its place in line (`train_ready_at`, per base branch).
- Only the front merges. The others wait, and their merge notice says where they are ("2nd in line, after
  #12").
- The front is compared with its base (`GET /compare/{base}...{head}`). Behind: its branch is updated
  (GitHub merges the base into it, `expected_head_sha` = the validated head), the new head is validated
  like any push, and the train waits for it. Up to date: exactly the validated head merges.
- A pull request leaves the train when it merges, is closed, or its decision is no longer *merge* or *wait*
  (its validation on top of the base failed, a person blocked it, the request was withdrawn). Then the new
  front is evaluated at once.

`train_step` is the pure decision; `MergeTrain` performs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.store.pull_requests import PullRequestStore
from handlers.merge.notices import MergeNotices

log = logging.getLogger(__name__)

#: evaluates a pull request again soon (the merge service's debounced job): (repo, number, installation id)
Schedule = Callable[[str, int, int], Awaitable[None]]


@dataclass(frozen=True)
class InLine:
    """Not the front: wait. `position` is 1-based; `after` is the pull request just ahead."""

    position: int
    after: int


@dataclass(frozen=True)
class UpdateFirst:
    """The front, behind its base: update its branch, validate the new head, then merge it."""


@dataclass(frozen=True)
class MergeNow:
    """The front, up to date with its base, validated: merge exactly the validated head."""


TrainStep = InLine | UpdateFirst | MergeNow


def train_step(line: Sequence[int], number: int, behind_by: int | None) -> TrainStep:
    """Pure: what the train does with `number` (which is in `line`). `behind_by` is None when not compared
    (only the front is)."""
    position = line.index(number) + 1 if number in line else len(line) + 1
    if position > 1:
        return InLine(position, line[position - 2])
    if behind_by:
        return UpdateFirst()
    return MergeNow()


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def in_line_notice(step: InLine, head_sha: str) -> str:
    return (f"Ready to merge `{head_sha[:12]}`: {ordinal(step.position)} in line in the merge train, after"
            f" #{step.after}. Each pull request is validated on top of the base branch before it merges.")


@dataclass
class MergeTrain:
    prs: PullRequestStore
    notices: MergeNotices
    schedule: Schedule

    async def board(self, gh: GitHubAPI, repo: str, pr: dict[str, Any]) -> TrainStep:
        """Take the pull request (ready to merge) aboard, if it is not yet, and say what it does now."""
        number, base = int(pr["number"]), pr["base"]["ref"]
        state = await self.prs.get(repo, number)
        if state.train_ready_at is None or state.train_base != base:
            await self.prs.set(repo, number, train_ready_at=time.time(), train_base=base)
        line = await self.prs.train_line(repo, base)
        step = train_step(line, number, None)
        if isinstance(step, InLine):
            await self.notices.say(gh, repo, number, in_line_notice(step, pr["head"]["sha"]))
            return step
        return train_step(line, number, await _behind_by(gh, repo, base, pr["head"]["sha"]))

    async def leave(self, repo: str, number: int, installation_id: int) -> bool:
        """The pull request is out of the train (merged, closed, no longer ready): the front is evaluated
        again (the next one goes, when this one was the front). True when it was aboard."""
        state = await self.prs.get(repo, number)
        if state.train_ready_at is None:
            return False
        await self.prs.set(repo, number, train_ready_at=None, train_base=None)
        line = await self.prs.train_line(repo, state.train_base or "")
        if line:
            await self.schedule(repo, line[0], installation_id)
        return True


async def _behind_by(gh: GitHubAPI, repo: str, base: str, head_sha: str) -> int:
    """How many commits of `base` the head does not contain (0: validated on top of the current base)."""
    owner, name = repo.split("/", 1)
    try:
        comparison = await gh.getitem("/repos/{owner}/{repo}/compare/{basehead}",
                                      {"owner": owner, "repo": name, "basehead": f"{base}...{head_sha}"})
    except BadRequest as exc:
        if exc.status_code != 404:
            raise
        log.warning("could not compare %s with %s in %s: updating the branch to be sure", base, head_sha[:12], repo)
        return 1
    return int(comparison.get("behind_by") or 0)
