"""A base branch that requires GitHub's merge queue (issue 15, item 2): the bot enqueues exactly the validated
head with GraphQL `enqueuePullRequest` instead of `PUT /merge`, once per head, and `/codegen merge cancel`
dequeues it. The fake GitHub checks the mutations' names against GitHub's schema
(tests/fixtures/github/graphql-merge-queue.md) and refuses REST merges on a queue branch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event, issue_comment_event

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]
ENQUEUE = "graphql/enqueuePullRequest"
DEQUEUE = "graphql/dequeuePullRequest"


async def test_a_ready_pull_request_is_enqueued_at_its_validated_head_and_cancel_dequeues_it(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_file(REPO, ".github/codegen.yml", "merge: {auto_merge: true, required_checks: [ci/test]}\n")
    fake_github.require_merge_queue(REPO, "main")
    pull = fake_github.add_pull(REPO)
    bot = await start_bot()
    await bot.record_passed_validation(REPO, pull, inst.id)
    ci = fake_github.add_check_run(REPO, pull.head_sha, "ci/test")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, ci, pull_numbers=[pull.number]))

    (enqueue,) = await eventually(lambda: fake_github.calls(ENQUEUE), within=15, what="the enqueue")
    assert enqueue.json["variables"]["expectedHeadOid"] == pull.head_sha
    assert fake_github.queued(REPO) == [pull.number]
    assert fake_github.calls("pulls/merge") == []
    await bot.drain()
    notice = [c.body for c in fake_github.world.comments.values() if "merge queue" in c.body]
    assert len(notice) == 1 and "(position 1)" in notice[0]

    other = fake_github.add_check_run(REPO, pull.head_sha, "ci/docs")  # another event: already queued
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, other, pull_numbers=[pull.number]))
    await bot.drain()
    assert len(fake_github.calls(ENQUEUE)) == 1

    event = issue_comment_event(fake_github, REPO, pull.number, inst.id, "/codegen merge cancel", user="maintainer")
    await bot.deliver("issue_comment", event)
    await bot.drain()
    (dequeue,) = fake_github.calls(DEQUEUE)
    assert dequeue.json["variables"]["id"] == fake_github.repo(REPO).pulls[pull.number].node_id
    assert fake_github.queued(REPO) == []
    replies = [c.body for c in fake_github.world.comments.values() if "withdrew" in c.body]
    assert len(replies) == 1 and "merge-queue entry" in replies[0]
