"""The fake's review comments, issue events and comment associations behave like GitHub's."""

from __future__ import annotations

from tests.unit.fakes.support import REPO, Setup, independent_check


async def test_review_comment_replies_join_the_thread_and_ids_are_their_own(gh: Setup) -> None:
    pull = gh.fake.add_pull(REPO)
    first = gh.fake.add_review_comment(REPO, pull.number, "why?", user="alice")
    issue_comment = gh.fake.add_comment(REPO, pull.number, "hello", user="alice")
    base = f"/repos/{REPO}/pulls/{pull.number}/comments"
    reply = await gh.client.post(f"{base}/{first.id}/replies", json={"body": "because"})
    assert reply.status_code == 201
    independent_check(reply)
    again = await gh.client.post(f"{base}/{reply.json()['id']}/replies", json={"body": "ok"})
    assert again.json()["in_reply_to_id"] == first.id  # a reply to a reply joins the first thread
    listed = await gh.client.get(base)
    assert [c["body"] for c in listed.json()] == ["why?", "because", "ok"]
    wrong_space = await gh.client.post(f"{base}/{issue_comment.id}/replies", json={"body": "x"})
    assert wrong_space.status_code == 404
    with gh.fake.allow_violations():
        too_long = await gh.client.post(f"{base}/{first.id}/replies", json={"body": "x" * 65_537})
    assert too_long.status_code == 422


async def test_review_comment_reactions_are_created_once(gh: Setup) -> None:
    pull = gh.fake.add_pull(REPO)
    comment = gh.fake.add_review_comment(REPO, pull.number, "/codegen help", user="alice")
    url = f"/repos/{REPO}/pulls/comments/{comment.id}/reactions"
    assert (await gh.client.post(url, json={"content": "eyes"})).status_code == 201
    assert (await gh.client.post(url, json={"content": "eyes"})).status_code == 200


async def test_label_events_name_who_added_the_label(gh: Setup) -> None:
    pull = gh.fake.add_pull(REPO)
    gh.fake.label_issue(REPO, pull.number, "codegen: automerge", actor="visitor")
    added = await gh.client.post(f"/repos/{REPO}/issues/{pull.number}/labels", json={"labels": ["bug"]})
    assert added.status_code == 200
    events = await gh.client.get(f"/repos/{REPO}/issues/{pull.number}/events")
    independent_check(events)
    assert [(e["event"], e["label"]["name"], e["actor"]["login"]) for e in events.json()] == [
        ("labeled", "codegen: automerge", "visitor"), ("labeled", "bug", f"{gh.fake.app_slug}[bot]")]


async def test_comment_author_association_follows_the_repositorys_roles(gh: Setup) -> None:
    gh.fake.set_permission(REPO, "carol", "write")
    issue = gh.fake.add_issue(REPO)
    for user in ("carol", "stranger"):
        gh.fake.add_comment(REPO, issue.number, "hi", user=user)
    listed = await gh.client.get(f"/repos/{REPO}/issues/{issue.number}/comments")
    assert [c["author_association"] for c in listed.json()] == ["MEMBER", "NONE"]
