"""Auto-merge: evaluate a pull request (debounced), then merge exactly the validated head SHA.

Every event that can change the answer schedules a `merge.evaluate` job for the PR, keyed by the PR and
delayed by `DEBOUNCE` seconds: a burst of events (several checks completing together) costs one
evaluation. The job fetches the PR once, gathers a snapshot (handlers/merge/gather.py), asks the pure decision
(handlers/merge/decide.py), and performs the effect:

- Merge: `PUT /repos/{o}/{r}/pulls/{n}/merge` with `sha` = the head SHA the decision saw and the
  configured method. GitHub answers 409 when the head moved meanwhile and 405 when the PR is not
  mergeable: both are reported in one comment and never retried blindly (a new push brings a new
  validation and a new evaluation). After a merge: a short comment (what was validated, which checks,
  the merge commit) and, with `merge.delete_branch`, the head branch is deleted when it lives in this
  repository.
- EnableAutoMerge (`merge.use_github_auto_merge`, while waiting for what GitHub enforces): GitHub's own
  auto-merge, for exactly the validated head (handlers/merge/native.py); refused, the bot merges itself.
- Blocked, when a merge was asked for (a command, the label, or `merge.auto_merge`): the PR's one merge
  notice says why, for that head (handlers/merge/notices.py: edited in place, the same words never twice).
- Wait / not asked: nothing.

A head without a passed validation cannot merge: the job stops after `GET /pulls/{n}` (the validation's end
schedules it again, and `/codegen merge` still answers with every reason at once). Nobody asked (config,
labels, store: `asked_before_gathering`) is decided before anything is gathered, so
an evaluation that concerns nobody costs the one `GET /pulls/{n}` it started with, and the check-event
triggers skip even that when the store and the recently loaded config say nobody asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gidgethub import BadRequest, GitHubException, GraphQLException
from gidgethub.abc import GitHubAPI

from bot.dispatch.jobs import Job, JobQueue, Retry
from bot.github import comments
from bot.github.client import GitHubClients
from bot.github.permissions import PermissionCache
from bot.store.pull_requests import PullRequestStore
from bot.store.validations import ValidationStore
from config.loader import LoadedConfig, RepoConfigLoader
from config.schema import MergeConfig
from handlers.merge import queue, texts, undo
from handlers.merge.decide import (
    AUTOMERGE_LABEL,
    Blocked,
    EnableAutoMerge,
    Merge,
    MergeDecision,
    MergePolicy,
    NotAsked,
    UpdateBranch,
    Wait,
    asked_before_gathering,
    decide_merge,
)
from handlers.merge.gather import gather
from handlers.merge.native import NativeAutoMerge, graphql_message, rate_limited
from handlers.merge.notices import MergeNotices
from handlers.merge.train import MergeNow, MergeTrain, UpdateFirst

log = logging.getLogger(__name__)

JOB = "merge.evaluate"
DEBOUNCE = 1.0


#: looks while GitHub computes mergeability: after 1, 2, 4, 8 and 16 s, then the next event decides
RECHECKS = 5


def recheck(job: Job) -> Retry | None:
    done = int(job.payload.get("rechecks", 0))
    if done >= RECHECKS:
        return None
    return Retry(after=float(2**done), payload={**job.payload, "rechecks": done + 1})


def graphql_url(api_url: str) -> str:
    """GitHub.com: https://api.github.com/graphql; Enterprise Server: https://HOST/api/graphql."""
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return f"{api_url}/graphql"


async def fetch_pull(gh: GitHubAPI, repo: str, number: int) -> dict[str, Any]:
    owner, name = repo.split("/", 1)
    pr: dict[str, Any] = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}", {"owner": owner, "repo": name, "pull_number": number}
    )
    return pr


@dataclass
class MergeService:
    """The merge evaluation job and its effects: built once, with what it uses."""

    jobs: JobQueue
    prs: PullRequestStore
    validations: ValidationStore
    config: RepoConfigLoader
    github: GitHubClients
    #: GitHub's GraphQL endpoint (for `merge.use_github_auto_merge`)
    graphql_endpoint: str
    #: this App's id: `codegen/*` checks count only when this App reported them. It is the id the App's
    #: JWT is signed for (GITHUB_APP_ID), which `GET /app` would answer too, without spending a request.
    app_id: int | None = None
    #: permission lookups (the automerge label counts only when its adder has write permission)
    permissions: PermissionCache = field(default_factory=PermissionCache)
    native: NativeAutoMerge = field(init=False)
    notices: MergeNotices = field(init=False)
    train: MergeTrain = field(init=False)

    def __post_init__(self) -> None:
        self.notices = MergeNotices(self.prs)
        self.train = MergeTrain(self.prs, self.notices, self._schedule_now)
        self.native = NativeAutoMerge(self.prs, self.graphql_endpoint, self.notices)

    def register(self) -> None:
        self.jobs.register(JOB, self.run_job, concurrency=4, max_attempts=3)

    async def schedule(self, repo: str, number: int, installation_id: int, delay: float = DEBOUNCE) -> None:
        await self.jobs.enqueue(
            JOB,
            {"repo": repo, "number": number, "installation_id": installation_id},
            key=f"merge:{repo}#{number}",
            delay=delay,
        )

    async def _schedule_now(self, repo: str, number: int, installation_id: int) -> None:
        await self.schedule(repo, number, installation_id, delay=0)

    async def evaluate(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], loaded: LoadedConfig) -> MergeDecision:
        """Gather the PR's state (the PR itself and its config come from the caller) and decide."""
        if loaded.config is None:
            return Blocked(("`.github/codegen.yml` at the base branch is invalid",))
        owner, name = repo.split("/", 1)
        state = await self.prs.get(repo, int(pr["number"]))
        merge = loaded.config.merge
        labels = [label.get("name", "") for label in pr.get("labels") or []]
        command_sha = state.merge_requested_sha if state.merge_requested_by is not None else None
        if not asked_before_gathering(merge.auto_merge, pr["head"]["sha"], labels, command_sha, state.automerge_sha):
            return NotAsked()
        passed = await self.validations.latest_for_sha(repo, pr["head"]["sha"])
        validated = passed.head_sha if passed is not None and passed.passed else None
        async def permission_of(user: str) -> str:
            return await self.permissions.permission(gh, owner, name, user)

        snapshot = await gather(gh, owner, name, pr, state=state, validated_sha=validated, own_app_id=self.app_id,
                                check_apps=dict(merge.check_apps), permission_of=permission_of,
                                required_checks=tuple(merge.required_checks))
        policy = MergePolicy(merge.auto_merge, merge.method, tuple(merge.required_checks), merge.update_branch,
                             merge.use_github_auto_merge, frozenset(merge.check_apps))
        return decide_merge(snapshot, policy)

    async def request(
        self, gh: GitHubAPI, repo: str, pr: dict[str, Any], loaded: LoadedConfig, user: str, installation_id: int
    ) -> str | None:
        """`/codegen merge` by `user`: remember it, and say what it waits for when it cannot merge now."""
        number = int(pr["number"])
        await self.prs.set(repo, number, merge_requested_by=user, merge_requested_sha=pr["head"]["sha"])
        decision = await self.evaluate(gh, repo, pr, loaded)
        if isinstance(decision, Merge | EnableAutoMerge):
            await self.schedule(repo, number, installation_id, delay=0)
            return None
        if isinstance(decision, NotAsked):  # cannot happen after the request above; kept for clarity
            return None
        notice = texts.describe(decision)
        if isinstance(decision, Blocked):  # the reply says it: the job's notice does not say it again
            await self.prs.set(repo, number,
                               last_notice=texts.notice(decision, pr["head"]["sha"], pr.get("html_url")))
        return notice

    async def run_job(self, job: Job) -> Retry | None:
        repo, number = job.payload["repo"], int(job.payload["number"])
        installation_id = int(job.payload["installation_id"])
        gh = self.github.installation(installation_id)
        try:
            pr = await fetch_pull(gh, repo, number)
        except BadRequest as exc:
            if exc.status_code != 404:
                raise
            log.info("pull request %s#%d is gone; nothing to evaluate", repo, number)
            return None
        passed = await self.validations.latest_for_sha(repo, pr["head"]["sha"])
        if passed is None or not passed.passed:
            if passed is not None and passed.state == "done" and await self.train.leave(repo, number, installation_id):
                await self.notices.say(gh, repo, number, texts.left_train_failed(pr["head"]["sha"]))
            return None  # nothing merges before its head passed validation, whose end schedules this job again
        owner, name = repo.split("/", 1)
        loaded = await self.config.load(owner, name, pr["base"]["ref"], installation_id=installation_id)
        decision = await self.evaluate(gh, repo, pr, loaded)
        if loaded.config is not None and loaded.config.merge.train:
            decision = await self._ride_train(gh, repo, pr, decision, installation_id)
        if isinstance(decision, Merge) and loaded.config is not None:
            await self._merge(gh, repo, pr, decision, loaded.config.merge, installation_id)
        elif isinstance(decision, UpdateBranch):
            await self._update_branch(gh, repo, pr, decision)
        elif isinstance(decision, EnableAutoMerge):
            if await self.native.enable(gh, repo, pr, decision):  # already clean: evaluate again, merge directly
                await self.schedule(repo, number, installation_id, delay=0)
        elif isinstance(decision, Blocked) and loaded.config is not None:
            await self._notice_if_asked(gh, repo, pr, decision, loaded.config.merge.auto_merge)
        elif isinstance(decision, Wait) and pr.get("mergeable") is None:
            return recheck(job)  # GitHub is computing mergeability: look again shortly, a bounded number of times
        return None

    async def _ride_train(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], decision: MergeDecision,
                          installation_id: int) -> MergeDecision | None:
        """`merge.train`: a ready PR boards and merges only from the front, on top of the current base (see
        handlers/merge/train.py); the decision left to perform (None: the train did what there was to do)."""
        number = int(pr["number"])
        if isinstance(decision, Blocked | NotAsked):
            await self.train.leave(repo, number, installation_id)
            return decision
        if not isinstance(decision, Merge | UpdateBranch):
            return decision  # waiting (e.g. the updated head's validation): keeps its place
        if await queue.requires_queue(gh, *repo.split("/", 1), pr["base"]["ref"]):
            return decision  # GitHub's own queue serialises the merges
        step = await self.train.board(gh, repo, pr)
        if isinstance(step, UpdateFirst):
            return UpdateBranch(pr["head"]["sha"])
        if isinstance(step, MergeNow):
            return decision if isinstance(decision, Merge) else UpdateBranch(pr["head"]["sha"])
        return None

    async def _enqueue(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], decision: Merge) -> None:
        await _enqueue_pull(self, gh, repo, pr, decision)

    async def _update_branch(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], decision: UpdateBranch) -> None:
        owner, name = repo.split("/", 1)
        number = int(pr["number"])
        try:
            await gh.put(
                "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
                {"owner": owner, "repo": name, "pull_number": number},
                data={"expected_head_sha": decision.sha},
            )
        except BadRequest as exc:
            if exc.status_code not in (403, 422):
                raise
            notice = f"Could not update the branch of `{decision.sha[:12]}` ({exc.status_code}: {exc})."
            await self.notices.say(gh, repo, number, notice)
            return
        await self.notices.say(gh, repo, number, texts.branch_updated(decision.sha))

    async def withdraw_on_push(self, gh: GitHubAPI, repo: str, pr: dict[str, Any]) -> None:
        """A new head: a merge request or automerge label given for an older commit no longer holds."""
        number, head = int(pr["number"]), pr["head"]["sha"]
        await self.native.disable_on_push(gh, repo, pr)
        state = await self.prs.get(repo, number)
        if state.queued_sha not in (None, head):  # GitHub takes a pull request out of its queue on a push
            await self.prs.set(repo, number, queued_sha=None)
        asked_at = state.merge_requested_sha if state.merge_requested_by is not None else None
        stale = [sha for sha in (asked_at, state.automerge_sha) if sha is not None and sha != head]
        if not stale:
            return
        await self.prs.set(repo, number, merge_requested_by=None, merge_requested_sha=None, automerge_sha=None)
        owner, name = repo.split("/", 1)
        if any(label.get("name") == AUTOMERGE_LABEL for label in pr.get("labels") or []):
            await gh.delete(
                "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
                {"owner": owner, "repo": name, "issue_number": number, "name": AUTOMERGE_LABEL},
            )
        await comments.post(gh, owner, name, number, texts.withdrawn(stale[0], head))

    async def withdraw(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], loaded: LoadedConfig, user: str, *,
                       hold: bool) -> str:
        """`/codegen merge cancel` / `/codegen hold` by `user`: take back what could merge the PR; the reply."""
        taken = await undo.withdraw(gh, self.prs, self.graphql_endpoint, repo, pr, hold=hold)
        auto_merge = loaded.config is not None and loaded.config.merge.auto_merge
        return texts.withdrawal(user, taken, auto_merge=auto_merge)

    async def hold_labelled(self, gh: GitHubAPI, repo: str, pr: dict[str, Any]) -> None:
        """The hold label was added by hand: GitHub's auto-merge and the queue entry, which GitHub would go on
        with, are withdrawn (the request and the automerge label stay: they count again once it is removed)."""
        taken = await undo.withdraw(gh, self.prs, self.graphql_endpoint, repo, pr, hold=False, keep_request=True)
        if taken.native or taken.queue or taken.failures:
            await self.notices.say(gh, repo, int(pr["number"]), texts.hold_label_added(taken))

    async def _notice_if_asked(
        self, gh: GitHubAPI, repo: str, pr: dict[str, Any], decision: Blocked, auto_merge: bool
    ) -> None:
        number = int(pr["number"])
        state = await self.prs.get(repo, number)
        asked = auto_merge or state.merge_requested_by is not None or any(
            label.get("name") == AUTOMERGE_LABEL for label in pr.get("labels") or []
        )
        if asked:
            await self.notices.say(gh, repo, number, texts.notice(decision, pr["head"]["sha"], pr.get("html_url")))

    async def _merge(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], decision: Merge, merge: MergeConfig,
                     installation_id: int) -> None:
        owner, name = repo.split("/", 1)
        number = int(pr["number"])
        if await queue.requires_queue(gh, owner, name, pr["base"]["ref"]):
            await self._enqueue(gh, repo, pr, decision)
            return
        try:
            result = await gh.put(
                "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
                {"owner": owner, "repo": name, "pull_number": number},
                data={"sha": decision.sha, "merge_method": decision.method},
            )
        except BadRequest as exc:
            if exc.status_code not in (403, 405, 409, 422):  # a refusal: said once, never retried blindly
                raise
            await self.notices.say(gh, repo, number, texts.merge_refused(decision, exc.status_code, str(exc)))
            await self.train.leave(repo, number, installation_id)  # it cannot go now: the next one does
            return
        merge_sha = result.get("sha", "")
        await self.prs.set(repo, number, merged_sha=merge_sha, merge_requested_by=None, merge_requested_sha=None)
        await self.train.leave(repo, number, installation_id)
        await comments.post(gh, owner, name, number, texts.merged(decision, merge_sha))
        await self.notices.resolve(gh, repo, number, texts.resolved(merge_sha, decision.sha))
        if merge.delete_branch:
            await _delete_head_branch(gh, repo, pr)


async def _enqueue_pull(service: MergeService, gh: GitHubAPI, repo: str, pr: dict[str, Any], decision: Merge) -> None:
    """The base branch requires GitHub's merge queue: enqueue exactly the validated head, once per head."""
    number = int(pr["number"])
    state = await service.prs.get(repo, number)
    if state.queued_sha == decision.sha:
        return  # already in the queue for this head
    try:
        entry = await queue.enqueue(gh, service.graphql_endpoint, pr, decision.sha)
    except GraphQLException as exc:
        if rate_limited(exc):
            raise
        await service.notices.say(gh, repo, number, texts.enqueue_refused(decision, graphql_message(exc)))
        return
    await service.prs.set(repo, number, queued_sha=decision.sha, merge_requested_by=None, merge_requested_sha=None)
    await service.notices.say(gh, repo, number, texts.enqueued(decision, entry.get("position")))


async def _delete_head_branch(gh: GitHubAPI, repo: str, pr: dict[str, Any]) -> None:
    """After a merge: the head branch goes, when it lives in this repository (never a fork's) and GitHub does
    not delete it itself."""
    if (pr["head"].get("repo") or {}).get("full_name") != repo:
        return
    if (pr["base"].get("repo") or {}).get("delete_branch_on_merge"):
        return  # the repository's "Automatically delete head branches": GitHub deletes it itself
    owner, name = repo.split("/", 1)
    try:
        await gh.delete(
            "/repos/{owner}/{repo}/git/refs/{ref}",
            {"owner": owner, "repo": name, "ref": f"heads/{pr['head']['ref']}"},
        )
    except GitHubException:
        log.warning("could not delete the merged branch %s", pr["head"]["ref"])
