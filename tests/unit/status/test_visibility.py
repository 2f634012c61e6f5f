"""Who sees what on the status page (handlers/status/visibility.py) and what a row shows (views.py): pure."""

from __future__ import annotations

from bot.github.oauth import AccessibleRepo
from bot.store.agent_runs import AgentRunRecord
from bot.store.pull_requests import PullRequestState
from bot.store.validations import ValidationRecord
from handlers.status.views import duration, merge_views, outcome, run_view, web_link
from handlers.status.visibility import can_see, canonical, is_operator, only_visible, visible_repos


def test_only_repositories_listed_with_read_access_are_visible_once_each_sorted() -> None:
    listed = [AccessibleRepo("octo-org/Shop", False, True), AccessibleRepo("octo-org/vault", True, False),
              AccessibleRepo("octo-org/shop", False, True), AccessibleRepo("alice/notes", True, True)]
    assert visible_repos(listed) == ("alice/notes", "octo-org/Shop")
    assert visible_repos([]) == ()


def test_names_compare_case_insensitively_and_unlisted_ones_are_never_visible() -> None:
    visible = ("octo-org/Shop",)
    assert can_see("OCTO-ORG/shop", visible) and not can_see("octo-org/vault", visible)
    assert canonical("octo-org/shop", visible) == "octo-org/Shop" and canonical("octo-org/vault", visible) is None
    items = [("octo-org/shop", 1), ("octo-org/vault", 2), ("other/shop", 3)]
    assert only_visible(items, visible, lambda item: item[0]) == [("octo-org/shop", 1)]


def test_operators_are_the_user_owning_the_app_or_admin_team_members() -> None:
    assert is_operator("Alice", "alice", "User", False)
    assert not is_operator("alice", "octo-org", "Organization", False)  # an organization's members are not all
    assert not is_operator("alice", "alice", "Organization", False)
    assert is_operator("bob", "octo-org", "Organization", True)
    assert not is_operator("bob", None, None, False)


def _validation(**fields: object) -> ValidationRecord:
    values: dict[str, object] = dict(id="v1", repo="octo-org/shop", pr_number=7, head_sha="f" * 40, head_ref="x",
                                     clone_url=None, installation_id=1, state="done", trigger="pull_request",
                                     check_runs={}, report=None, passed=True, created_at=1.0, queued_at=1.0,
                                     started_at=None, finished_at=None)
    values.update(fields)
    return ValidationRecord(**values)  # type: ignore[arg-type]


def test_a_validation_outcome_and_durations() -> None:
    assert outcome(_validation()) == "passed" and outcome(_validation(passed=False)) == "failed"
    assert outcome(_validation(state="held", passed=None)) == "held"
    assert outcome(_validation(passed=None)) == "done"
    assert [duration(s) for s in (0.25, 12.34, 245, 3720, None)] == ["250 ms", "12.3 s", "4 m 05 s", "1 h 02 m", "—"]


def test_links_are_http_only_and_a_linked_pr_of_an_invisible_repository_is_left_out() -> None:
    assert web_link("javascript:alert(1)") is None and web_link("https://codegen.example/r/1")
    run = AgentRunRecord(id=1, repo="octo-org/shop", number=7, thread_kind="pull_request", installation_id=1,
                         command="start", requested_by="alice", status="finished", web_url="javascript:x",
                         linked_prs=[{"url": "https://github.com/octo-org/shop/pull/9", "title": "Fix"},
                                     {"url": "https://github.com/octo-org/vault/pull/2", "title": "Vault fix"}])
    view = run_view(run, "https://github.com", ("octo-org/shop",))
    assert view.prs == [("https://github.com/octo-org/shop/pull/9", "Fix")] and view.web_url is None


def test_merge_paths_show_the_place_in_the_train() -> None:
    states = [PullRequestState("o/r", 5, train_ready_at=20.0, train_base="main"),
              PullRequestState("o/r", 3, train_ready_at=10.0, train_base="main"),
              PullRequestState("o/r", 4, queued_sha="a" * 40), PullRequestState("o/r", 6, automerge_sha="b" * 40)]
    paths = {v.pr_number: v.path for v in merge_views(states, "o/r", "https://github.com")}
    assert paths == {5: "merge train into main: 2 of 2", 3: "merge train into main: 1 of 2",
                     4: f"GitHub merge queue at {'a' * 12}", 6: f"automerge label at {'b' * 12}"}
