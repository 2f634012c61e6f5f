"""Send failed validations back to the agent, within a bound; and the person-triggered fix.

- After a validation of a PR that is **linked to a finished agent run** fails, that run is resumed
  (`/agent/run/resume`) with the error context (handlers/agent/fix_context.py), and the attempt is
  counted in the store. At most `agent.max_fix_attempts` per PR; when the bound is reached, the PR gets
  one comment saying what still fails and that a person is needed, and the label `codegen: needs-human`.
  The run's status comment shows "Fix attempt n of N".
- Any PR's failing check runs offer **Fix with Codegen**; that button and `/codegen fix [instructions]`
  (from a user with `agent.min_permission`) start a run on the PR's branch, or resume the PR's linked run,
  with the same context. Person-triggered fixes are not counted against the bound.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.github import comments
from bot.github.client import GitHubClients
from bot.runtime.faults import crash_point
from bot.store.agent_runs import AgentRunStore
from bot.store.pull_requests import PullRequestStore
from bot.store.validations import ValidationRecord, ValidationStore
from config.loader import RepoConfigLoader
from handlers.agent.fix_context import render_fix_context
from handlers.agent.service import AgentRunService
from validators.outcome import ValidationReport

log = logging.getLogger(__name__)

NEEDS_HUMAN = "codegen: needs-human"


def is_fork(record: ValidationRecord) -> bool:
    """The validated head lives in another repository than the PR's base (its clone URL says where)."""
    clone = (record.clone_url or "").lower().removesuffix(".git").rstrip("/")
    return not clone.endswith("/" + record.repo.lower())


def failing_summary(report: dict[str, Any]) -> str:
    failing = [
        f"- `{stage}`: {outcome.get('title', outcome.get('conclusion'))}"
        for stage, outcome in (report.get("outcomes") or {}).items()
        if outcome.get("conclusion") not in ("success", "neutral", "skipped")
    ]
    return "\n".join(failing) or "- (no stage detail)"


@dataclass
class AutoFixService:
    """Failed validations back to the agent: built once, with what it uses."""

    prs: PullRequestStore
    runs: AgentRunStore
    agent: AgentRunService
    validations: ValidationStore
    config: RepoConfigLoader
    github: GitHubClients

    async def after_validation(self, record: ValidationRecord, report: ValidationReport) -> None:
        if report.passed or record.pr_number is None or record.state == "cancelled":
            return
        if is_fork(record):
            return  # fork code goes back to the agent only when a maintainer says `/codegen fix`
        run = await self.runs.run_for_pr(record.repo, record.pr_number)
        if run is None or run.codegen_run_id is None or run.status != "finished":
            # a person's PR (the button and /codegen fix serve it), the agent still working, or a run that a
            # person cancelled, that failed or went stale: never resumed behind anyone's back
            return
        owner, name = record.owner_repo
        gh = self.github.installation(record.installation_id)
        loaded = await self.config.load(owner, name, None, installation_id=record.installation_id)
        limit = loaded.config.agent.max_fix_attempts if loaded.config is not None else 3
        attempt = await self.prs.take_fix_attempt(record.repo, record.pr_number, limit)
        data = report.to_json()
        if attempt is None:
            await self._needs_human(gh, record, data, limit)
            return
        context = render_fix_context(data, branch=record.head_ref)
        await self.runs.update(run.id, fix_attempt=attempt)
        run = await self.runs.get(run.id)
        assert run is not None
        await self.agent.resume(run, "fix", context, run.requested_by)

    async def _needs_human(self, gh: GitHubAPI, record: ValidationRecord, report: dict[str, Any], limit: int) -> None:
        assert record.pr_number is not None
        state = await self.prs.get(record.repo, record.pr_number)
        if state.needs_human:
            return
        owner, name = record.owner_repo
        await comments.post(
            gh, owner, name, record.pr_number,
            f"The agent tried {limit} fix(es) and the validation of `{record.head_sha[:12]}` still fails:\n\n"
            f"{failing_summary(report)}\n\nA person is needed here. `/codegen fix <instructions>` sends it back"
            " to the agent with your guidance.",
        )
        await gh.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            {"owner": owner, "repo": name, "issue_number": record.pr_number},
            data={"labels": [NEEDS_HUMAN]},
        )
        crash_point("github.write.after")
        await self.prs.set(record.repo, record.pr_number, needs_human=True)

    async def fix_requested(
        self, gh: GitHubAPI, *, repo: str, pr: dict[str, Any], installation_id: int, user: str,
        extra: str, command_comment_id: int | None, command_key: str | None = None,
    ) -> str:
        """A person asked for a fix (button or command). Returns what happened, for a reply. The same command
        handled again (`command_key`) finds the run it started and follows it: never a second run."""
        number, sha = int(pr["number"]), pr["head"]["sha"]
        validation = await self.validations.latest_for_sha(repo, sha)
        if validation is None or validation.report is None:
            return f"There is no finished validation of `{sha[:12]}` to fix yet."
        if validation.passed:
            return f"The validation of `{sha[:12]}` passed; there is nothing to fix."
        context = render_fix_context(validation.report, branch=pr["head"]["ref"], extra=extra)
        linked = await self.runs.run_for_pr(repo, number)
        started = await self.runs.for_command(repo, command_key) if command_key is not None else None
        if started is not None:
            linked = None  # this command's own run (found below, by its key), not someone else's
        if linked is not None and linked.active:
            return "The agent is already working on this pull request; wait for its answer."
        if linked is not None and linked.codegen_run_id is not None and linked.status == "finished":
            await self.agent.resume(linked, "fix", context, user)
            return "Sent the failure back to the agent run that opened this pull request."
        record = await self.agent.start(
            repo=repo, number=number, thread_kind="pull_request", installation_id=installation_id,
            command=context, requested_by=user, command_comment_id=command_comment_id, command_key=command_key,
        )
        await self.runs.link_pr(record.id, repo, number)
        return "Started an agent run to fix this pull request on its branch."
