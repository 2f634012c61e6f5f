"""What a row of the status page shows: pure projections of the store's records, no I/O.

Times are shown in UTC; durations as `850 ms`, `12.3 s`, `4 m 05 s`, `1 h 02 m`. Links go to GitHub (pull
requests, commits, check runs, threads) and to Codegen (an agent run's `web_url`, only when it is http(s)). A
linked pull request of an agent run is shown only when its repository is visible to the user too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.store.agent_runs import AgentRunRecord
from bot.store.pull_requests import PullRequestState
from bot.store.validations import ValidationRecord
from handlers.status.visibility import can_see

STAGE_ORDER = ("analysis", "build", "test", "deploy", "web-eval")


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "—"


def duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} m {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} m"


def web_link(url: object) -> str | None:
    """An http(s) URL, or None (never a `javascript:` or other scheme)."""
    return url if isinstance(url, str) and urlsplit(url).scheme in ("http", "https") else None


@dataclass(frozen=True)
class StepView:
    command: str
    exit_code: int | None
    duration: str
    timed_out: bool
    log: str


@dataclass(frozen=True)
class StageView:
    name: str
    conclusion: str
    title: str
    duration: str
    check_run_url: str | None
    steps: list[StepView] = field(default_factory=list)


@dataclass(frozen=True)
class ValidationView:
    id: str
    repo: str
    pr_number: int | None
    sha: str
    state: str
    outcome: str
    trigger: str
    created: str
    duration: str
    pr_url: str | None
    commit_url: str
    stages: list[StageView]
    misconfigured: list[str]


def outcome(record: ValidationRecord) -> str:
    """`passed` / `failed` for a finished validation, else its state (held, queued, running, cancelled)."""
    if record.state != "done" or record.passed is None:
        return record.state
    return "passed" if record.passed else "failed"


def _stages(record: ValidationRecord, github_url: str) -> list[StageView]:
    outcomes: dict[str, Any] = (record.report or {}).get("outcomes") or {}
    names = sorted({*outcomes, *record.check_runs}, key=lambda n: (*STAGE_ORDER, n).index(n))
    views = []
    for name in names:
        data = outcomes.get(name) or {}
        run_id = record.check_runs.get(name)
        steps = [StepView(str(s.get("command", "")), s.get("exit_code"), duration(s.get("duration")),
                          bool(s.get("timed_out")), str(s.get("output_tail") or "")) for s in data.get("steps") or []]
        conclusion = data.get("conclusion") or (record.reported or {}).get(name) or record.state
        views.append(StageView(name, str(conclusion), str(data.get("title") or ""),
                               duration(data.get("duration")) if data else "—",
                               f"{github_url}/{record.repo}/runs/{run_id}" if run_id else None, steps))
    return views


def validation_view(record: ValidationRecord, github_url: str) -> ValidationView:
    took = (record.finished_at - record.started_at) if record.finished_at and record.started_at else None
    report = record.report or {}
    return ValidationView(
        id=record.id, repo=record.repo, pr_number=record.pr_number, sha=record.head_sha[:12], state=record.state,
        outcome=outcome(record), trigger=record.trigger, created=when(record.created_at), duration=duration(took),
        pr_url=f"{github_url}/{record.repo}/pull/{record.pr_number}" if record.pr_number is not None else None,
        commit_url=f"{github_url}/{record.repo}/commit/{record.head_sha}",
        stages=_stages(record, github_url), misconfigured=[str(m) for m in report.get("misconfigured") or []],
    )


@dataclass(frozen=True)
class RunView:
    id: int
    repo: str
    number: int
    thread_url: str
    command: str
    requested_by: str
    status: str
    codegen_status: str | None
    web_url: str | None
    answer: str | None
    prs: list[tuple[str, str]]
    created: str
    updated: str
    error: str | None


def _repo_of_pr_url(url: str) -> str:
    parts = urlsplit(url).path.strip("/").split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else ""


def run_view(record: AgentRunRecord, github_url: str, visible: tuple[str, ...]) -> RunView:
    prs = []
    for pr in record.linked_prs:
        url = web_link(pr.get("url"))
        if url is not None and can_see(_repo_of_pr_url(url), visible):
            prs.append((url, str(pr.get("title") or url)))
    return RunView(
        id=record.id, repo=record.repo, number=record.number,
        thread_url=f"{github_url}/{record.repo}/issues/{record.number}",
        command=record.command, requested_by=record.requested_by, status=record.status,
        codegen_status=record.codegen_status, web_url=web_link(record.web_url), answer=record.answer_kind, prs=prs,
        created=when(record.created_at), updated=when(record.updated_at), error=record.error,
    )


@dataclass(frozen=True)
class MergeView:
    pr_number: int
    pr_url: str
    path: str
    asked_by: str | None
    since: str


def merge_views(states: list[PullRequestState], repo: str, github_url: str) -> list[MergeView]:
    """Pull requests on their way to merging: in the bot's train (with their place), in GitHub's merge queue, or
    asked for (a command or the automerge label)."""
    lines: dict[str, list[PullRequestState]] = {}
    for state in states:
        if state.train_ready_at is not None:
            lines.setdefault(state.train_base or "?", []).append(state)
    views = []
    for state in states:
        if state.train_ready_at is not None:
            line = sorted(lines[state.train_base or "?"], key=lambda s: (s.train_ready_at or 0, s.pr_number))
            path = f"merge train into {state.train_base}: {line.index(state) + 1} of {len(line)}"
        elif state.queued_sha:
            path = f"GitHub merge queue at {state.queued_sha[:12]}"
        elif state.automerge_sha:
            path = f"automerge label at {state.automerge_sha[:12]}"
        else:
            path = f"merge asked at {(state.merge_requested_sha or '?')[:12]}"
        views.append(MergeView(state.pr_number, f"{github_url}/{repo}/pull/{state.pr_number}", path,
                               state.merge_requested_by, when(state.train_ready_at)))
    return views
