"""The life of an agent run: create it on Codegen, follow it, report it in one status comment.

Every step that talks to Codegen runs as a durable job (bot/jobs.py), never inside the webhook handler:
a rate-limited Codegen API can make a call wait, and a restart must not lose a run.

- `start` records the run once per command: the same comment handled again (after a crash, or a retry of
  its delivery) finds its record (`AgentRunStore.create_once`), adopts its status comment (found by its
  marker when its id was not recorded) and queues its job again only when none is queued or running.
- `agent_run.start`: build the prompt (handlers/agent/prompt.py), create the run with the thread in its
  `metadata` (handlers/agent/creation.py: whoever finds the creation already sent, a retry or a job re-run
  after a crash, looks for the run by that metadata first, so a run is never created twice), then poll.
- `agent_run.resume`: resume the run with the follow-up prompt (continue / confirm / modify / fix).
- A job that uses up its attempts fails its run with a clear error (handlers/agent/reconcile.py), and the
  reconciler's task `agent_runs.unfollowed` queues the job of an active run that has none.
- `agent_run.poll`: GET the run; edit the status comment when something changed; when the run ends,
  classify the answer (handlers/agent/answer.py), link its pull requests, and stop polling.
  Polling backs off while nothing changes: 5 s, 5 s, 10 s, 10 s, 20 s, 30 s, then every 60 s — or slower
  when many runs are followed, so that all polls together stay under Codegen's documented 60 requests per
  30 seconds (interval ≥ 0.5 s × active runs). A run whose status has not changed for
  `AGENT_RUN_STALE_MINUTES` is marked stale and reported; polling stops.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.codegen.client import AgentRun, CodegenClient, CodegenError, CodegenRateLimited
from bot.codegen.orgs import CodegenOrgMap
from bot.dispatch.jobs import Job, JobQueue, Retry
from bot.github import comments
from bot.github.client import GitHubClients
from bot.store.agent_runs import AgentRunRecord, AgentRunStore
from config.loader import RepoConfigLoader
from config.schema import AgentConfig
from handlers.agent import reconcile
from handlers.agent.answer import AnswerKind, classify_answer
from handlers.agent.creation import find_or_create
from handlers.agent.job_keys import POLL, POLL_PREFIX, RESUME, START, poll_key, resume_key, start_key
from handlers.agent.prompt import PromptContext, build_prompt, build_resume_prompt
from handlers.agent.status import status_view
from handlers.agent.texts import marker, render_status

log = logging.getLogger(__name__)

_BACKOFF = (5.0, 5.0, 10.0, 10.0, 20.0, 30.0, 60.0)
_PR_URL = re.compile(r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pull/(?P<number>\d+)")
#: how many of the thread's latest comments go into a prompt (before the size bound applies)
PROMPT_COMMENTS = 20
#: GitHub's `author_association` values of people the repository trusts (agent.prompt_comments)
COLLABORATORS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})


def poll_delay(unchanged_polls: int, active_runs: int, first: float = 5.0) -> float:
    """Pure: seconds until the next poll of a run that has not changed for `unchanged_polls` polls.

    5 s, 5 s, 10 s, 10 s, 20 s, 30 s, then every 60 s while nothing changes (any change starts over);
    never more often than one poll per run every `active_runs / 2` seconds, which keeps all the polls
    within Codegen's 60 requests per 30 s. `first` (setting AGENT_POLL_SECONDS) scales the whole series.
    """
    scale = first / _BACKOFF[0]
    base = _BACKOFF[min(unchanged_polls, len(_BACKOFF) - 1)] * scale
    return max(base, 0.5 * active_runs * scale)


@dataclass
class AgentRunService:
    """The effects of agent-run commands and jobs: built once, with the stores and clients it uses."""

    store: AgentRunStore
    jobs: JobQueue
    github: GitHubClients
    #: None when CODEGEN_API_TOKEN is not set: runs then fail saying Codegen is not configured
    codegen: CodegenClient | None
    orgs: CodegenOrgMap
    default_org_id: int | None
    config: RepoConfigLoader
    poll_seconds: float = 5.0
    stale_minutes: int = 30
    #: when this service was built (≈ the process started): the reconciler's grace is measured from it
    started_at: float = field(default_factory=time.time)

    def register(self) -> None:
        self.jobs.register(START, self.run_start, concurrency=4, max_attempts=5, on_exhausted=self.on_exhausted)
        self.jobs.register(RESUME, self.run_resume, concurrency=4, max_attempts=5, on_exhausted=self.on_exhausted)
        self.jobs.register(POLL, self.run_poll, concurrency=16, max_attempts=10, on_exhausted=self.on_exhausted)

    async def on_exhausted(self, job: Job, error: str) -> None:
        await reconcile.conclude_exhausted(self, job, error)

    async def reconcile_unfollowed(self) -> int:
        """The reconciler's task `agent_runs.unfollowed`: active runs with no job get theirs again."""
        return await reconcile.repair_unfollowed(self)

    # --- helpers ------------------------------------------------------------------------------
    def _delay(self, unchanged: int, active: int) -> float:
        return poll_delay(unchanged, active, self.poll_seconds)

    def _gh(self, record: AgentRunRecord) -> GitHubAPI:
        return self.github.installation(record.installation_id)

    async def render(self, record: AgentRunRecord, *, fresh: bool = False) -> AgentRunRecord:
        """Create or edit the run's one status comment. With no comment id recorded, the thread is searched
        for the run's marker first (a crash may have come between the post and the record), unless the
        record is `fresh` (created just now: no comment can carry its marker yet)."""
        gh = self._gh(record)
        owner, repo = record.owner_repo
        body = render_status(status_view(record, time.time(), self.stale_minutes))
        if record.status_comment_id is None:
            if fresh:
                created = await comments.post(gh, owner, repo, record.number, body)
            else:
                created = await comments.post_once(gh, owner, repo, record.number, marker(record.id), body)
            return await self.store.update(record.id, status_comment_id=int(created["id"]))
        await comments.edit(gh, owner, repo, record.status_comment_id, body)
        return record

    async def fail(self, record: AgentRunRecord, error: str, codegen_status: str | None = None) -> None:
        record = await self.store.update(
            record.id, status="failed", error=error, codegen_status=codegen_status or record.codegen_status
        )
        await self.jobs.cancel(poll_key(record.id))
        await self.render(record)

    # --- starting -----------------------------------------------------------------------------
    async def start(
        self,
        *,
        repo: str,
        number: int,
        thread_kind: str,
        installation_id: int,
        command: str,
        requested_by: str,
        command_comment_id: int | None,
        fix_attempt: int | None = None,
        extra: dict[str, Any] | None = None,
        command_key: str | None = None,
    ) -> AgentRunRecord:
        """Record the run, show it as queued, and queue its creation on Codegen. A `command_key` already
        recorded (the command handled again) gives its run back, shown and followed, never a second run."""
        record, created = await self.store.create_once(
            repo=repo, number=number, thread_kind=thread_kind, installation_id=installation_id, command=command,
            requested_by=requested_by, command_comment_id=command_comment_id, fix_attempt=fix_attempt,
            command_key=command_key,
        )
        if not created:
            log.warning("agent run %d is already recorded for this command: following it, not starting another",
                        record.id)
        record = await self.render(record, fresh=created)
        if created:
            await self.jobs.enqueue(START, {"run_id": record.id, **(extra or {})}, key=start_key(record.id))
        else:
            await reconcile.follow_again(self, record, extra)
        return record

    async def _prompt_for(self, record: AgentRunRecord, job: Job) -> tuple[str, str]:
        gh = self._gh(record)
        owner, repo = record.owner_repo
        issue = await gh.getitem(
            "/repos/{owner}/{repo}/issues/{issue_number}", {"owner": owner, "repo": repo, "issue_number": record.number}
        )
        head_branch = base_branch = None
        if record.thread_kind == "pull_request":
            pr = await gh.getitem(
                "/repos/{owner}/{repo}/pulls/{pull_number}",
                {"owner": owner, "repo": repo, "pull_number": record.number},
            )
            head_branch, base_branch = pr["head"]["ref"], pr["base"]["ref"]
        loaded = await self.config.load(owner, repo, base_branch, installation_id=record.installation_id)
        agent = loaded.config.agent if loaded.config is not None else AgentConfig()
        comments: list[tuple[str, str]] = []
        async for comment in gh.getiter(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments{?per_page}",
            {"owner": owner, "repo": repo, "issue_number": record.number, "per_page": 100},
        ):
            if comment["id"] in (record.status_comment_id, record.command_comment_id):
                continue
            if agent.prompt_comments == "collaborators" and comment.get("author_association") not in COLLABORATORS:
                continue
            comments.append(((comment.get("user") or {}).get("login", "?"), comment.get("body") or ""))
        prefix = agent.prompt_prefix
        extra_context = job.payload.get("context") or ""
        prompt = build_prompt(
            PromptContext(
                command=record.command + (f"\n\n{extra_context}" if extra_context else ""),
                repo=record.repo,
                kind=record.thread_kind,
                number=record.number,
                title=issue.get("title") or "",
                body=issue.get("body") or "",
                html_url=issue.get("html_url") or "",
                head_branch=head_branch,
                base_branch=base_branch,
                comments=comments[-PROMPT_COMMENTS:],
                prompt_prefix=prefix,
            )
        )
        return prompt, issue.get("html_url") or ""

    async def run_start(self, job: Job) -> Retry | None:
        record = await self.store.get(job.payload["run_id"])
        if record is not None and record.status == "running" and record.codegen_run_id is not None:
            # created and recorded, then interrupted before its poll was queued
            if not await self.store.live_job_keys(record.id, (POLL_PREFIX,)):
                await self._follow(record)
            return None
        if record is None or record.status != "queued":
            return None  # cancelled meanwhile
        owner, repo = record.owner_repo
        org_id = self.orgs.org_for(owner, repo, self.default_org_id)
        if self.codegen is None or org_id is None:
            await self.fail(record, "Codegen is not configured on this bot (CODEGEN_API_TOKEN, CODEGEN_ORG_ID).")
            return None
        prompt, html_url = await self._prompt_for(record, job)
        run = await find_or_create(self.codegen, self.store, self.fail, record, org_id, prompt, html_url)
        if not isinstance(run, AgentRun):
            return run
        record = await self.store.update(
            record.id,
            status="running",
            codegen_run_id=run.id,
            codegen_org_id=org_id,
            web_url=run.web_url,
            codegen_status=run.status,
            prompt=prompt,
            progressed=True,
        )
        await self.render(record)
        await self._follow(record)
        return None

    async def _follow(self, record: AgentRunRecord) -> None:
        await self.jobs.enqueue(
            POLL, {"run_id": record.id, "unchanged": 0}, key=poll_key(record.id), delay=self._delay(0, 0)
        )

    # --- resuming -----------------------------------------------------------------------------
    async def resume(self, record: AgentRunRecord, kind: str, text: str, requested_by: str) -> AgentRunRecord:
        """Send `text` to a finished run. The job is queued before the record says `running`: a crash between
        the two leaves a job that finds the run still `finished` and marks it running itself (`_resuming`),
        never a run shown running whose resume is never sent."""
        prompt = text if kind == "fix" else build_resume_prompt(kind, text)
        await self.jobs.enqueue(RESUME, {"run_id": record.id, "prompt": prompt, "requested_by": requested_by},
                                key=resume_key(record.id))
        record = await self._resuming(record.id, requested_by)
        return await self.render(record)

    async def _resuming(self, run_id: int, requested_by: str) -> AgentRunRecord:
        return await self.store.update(
            run_id, status="running", answer_kind=None, error=None, requested_by=requested_by, progressed=True
        )

    async def run_resume(self, job: Job) -> Retry | None:
        record = await self.store.get(job.payload["run_id"])
        if record is None or record.codegen_run_id is None or self.codegen is None:
            return None
        if record.status == "finished" and job.payload.get("requested_by"):
            # queued, then a crash before the record was marked running (see `resume`)
            record = await self._resuming(record.id, job.payload["requested_by"])
        if record.status != "running":
            return None  # cancelled or failed meanwhile
        assert record.codegen_org_id is not None
        try:
            run = await self.codegen.resume_run(record.codegen_org_id, record.codegen_run_id, job.payload["prompt"])
        except CodegenRateLimited as exc:
            log.warning("Codegen rate limit; resuming run %s in %.0fs", record.id, exc.retry_after)
            return Retry(after=exc.retry_after)
        except CodegenError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                await self.fail(record, f"Codegen refused to resume the run (HTTP {exc.status}): {exc.message}")
                return None
            raise
        record = await self.store.update(record.id, codegen_status=run.status, progressed=True)
        await self.render(record)
        await self.jobs.enqueue(
            POLL,
            {"run_id": record.id, "unchanged": 0, "resumed": True},
            key=poll_key(record.id),
            delay=self._delay(0, 0),
        )
        return None

    # --- following ----------------------------------------------------------------------------
    async def run_poll(self, job: Job) -> Retry | None:
        record = await self.store.get(job.payload["run_id"])
        if record is None or record.status != "running" or record.codegen_run_id is None or self.codegen is None:
            return None
        assert record.codegen_org_id is not None
        run = await self.codegen.get_run(record.codegen_org_id, record.codegen_run_id)
        # a resumed run may still show its previous terminal status for a moment: wait for it to move
        if (
            job.payload.get("resumed")
            and run.terminal
            and run.status == record.codegen_status
            and run.result == record.result
        ):
            return Retry(after=self._delay(0, 0), payload={**job.payload})
        changed = run.status != record.codegen_status
        if run.terminal:
            await self._finish(record, run)
            return None
        if changed or run.web_url != record.web_url:
            record = await self.store.update(
                record.id, codegen_status=run.status, web_url=run.web_url or record.web_url, progressed=changed
            )
            await self.render(record)
            unchanged = 0
        else:
            unchanged = int(job.payload.get("unchanged", 0)) + 1
            stale_after = self.stale_minutes * 60
            if time.time() - record.progressed_at > stale_after:
                record = await self.store.update(record.id, status="stale")
                await self.render(record)
                return None
            if unchanged % 6 == 0:  # keep the elapsed time in the comment roughly current
                await self.render(record)
        active = len(await self.store.active_runs())
        return Retry(after=self._delay(unchanged, active), payload={"run_id": record.id, "unchanged": unchanged})

    async def _finish(self, record: AgentRunRecord, run: AgentRun) -> None:
        if not run.succeeded:
            await self.fail(record, f"The agent run ended with status {run.status}.", run.status)
            return
        prs = [
            {"url": pr.url, "title": pr.title, "head_branch": pr.head_branch_name, "id": pr.id}
            for pr in run.github_pull_requests
        ]
        kind = classify_answer(run.result, run.github_pull_requests)
        record = await self.store.update(
            record.id,
            status="finished",
            codegen_status=run.status,
            answer_kind=kind.value,
            result=run.result,
            linked_prs=prs,
            web_url=run.web_url or record.web_url,
            progressed=True,
        )
        if kind is AnswerKind.PR:
            for pr in prs:
                match = _PR_URL.search(pr.get("url") or "")
                if match and f"{match['owner']}/{match['repo']}".lower() == record.repo.lower():
                    await self.store.link_pr(record.id, record.repo, int(match["number"]))
        await self.render(record)

    # --- stopping -----------------------------------------------------------------------------
    async def cancel(self, record: AgentRunRecord, by: str) -> AgentRunRecord:
        await self.jobs.cancel(poll_key(record.id))
        await self.jobs.cancel(start_key(record.id))
        await self.jobs.cancel(resume_key(record.id))
        record = await self.store.update(record.id, status="cancelled", error=f"cancelled by @{by}")
        await self.render(record)
        return record
