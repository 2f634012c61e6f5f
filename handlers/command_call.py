"""One accepted slash command, with what its action needs to answer in the thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gidgethub.abc import GitHubAPI

from bot import issue_comments
from bot.agent_runs import AgentRunRecord
from bot.context import Context
from config.schema import RepoConfig
from handlers.agent_lifecycle import AgentRuns
from handlers.rules.commands import Command
from handlers.thread import Thread


@dataclass(frozen=True)
class CommandCall:
    ctx: Context
    gh: GitHubAPI
    thread: Thread
    user: str
    comment_id: int
    installation_id: int
    config: RepoConfig
    command: Command

    async def reply(self, body: str) -> dict[str, Any]:
        return await issue_comments.post(self.gh, self.thread.owner, self.thread.repo, self.thread.number, body)

    def agent_runs(self) -> AgentRuns:
        return AgentRuns(self.ctx, self.ctx.jobs)

    async def open_pull(self) -> dict[str, Any] | None:
        """The thread's pull request when it is one and is open; otherwise a reply saying why, and None."""
        if not self.thread.is_pull_request:
            await self.reply(f"`/codegen {self.command.kind.value}` works on pull requests only.")
            return None
        pr: dict[str, Any] = await self.gh.getitem(
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            {"owner": self.thread.owner, "repo": self.thread.repo, "pull_number": self.thread.number},
        )
        if pr.get("state") != "open":
            await self.reply(f"This pull request is closed; `/codegen {self.command.kind.value}` does nothing.")
            return None
        return pr

    async def latest_run(self) -> AgentRunRecord | None:
        runs = await self.ctx.agent_runs.thread_runs(self.thread.full_name, self.thread.number)
        return runs[-1] if runs else None


