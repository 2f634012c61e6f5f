"""The merge decision, table-tested over every condition (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.merge.decide import (
    Blocked,
    CheckResult,
    Merge,
    MergePolicy,
    NotAsked,
    PullSnapshot,
    Review,
    UpdateBranch,
    Wait,
    decide_merge,
    standing_change_requests,
)

SHA = "a" * 40
POLICY = MergePolicy(auto_merge=True, method="squash", required_checks=("codegen/build", "codegen/test"))


def passing(*names: str) -> dict[str, CheckResult]:
    return {n: CheckResult(n, "success") for n in names}


READY = PullSnapshot(
    number=7,
    open=True,
    merged=False,
    draft=False,
    head_sha=SHA,
    mergeable=True,
    mergeable_state="clean",
    labels=frozenset(),
    reviews=(),
    checks=passing("codegen/build", "codegen/test"),
    validated_sha=SHA,
)


def test_ready_pr_merges_exactly_its_head_sha_with_the_configured_method() -> None:
    decision = decide_merge(READY, POLICY)
    assert decision == Merge(SHA, "squash", ("codegen/build", "codegen/test"))


@pytest.mark.parametrize(
    ("change", "policy", "expected"),
    [
        ({}, replace(POLICY, auto_merge=False), NotAsked()),
        (
            {"labels": frozenset({"codegen: automerge"}), "automerge_label_sha": SHA,
             "automerge_label_by_writer": True},
            replace(POLICY, auto_merge=False),
            Merge(SHA, "squash", ("codegen/build", "codegen/test")),
        ),
        (
            {"merge_command_sha": SHA},
            replace(POLICY, auto_merge=False, method="rebase"),
            Merge(SHA, "rebase", ("codegen/build", "codegen/test")),
        ),
        # a merge request or label given at an older head no longer holds (issue 12, item 10)
        ({"merge_command_sha": "b" * 40}, replace(POLICY, auto_merge=False), NotAsked()),
        ({"labels": frozenset({"codegen: automerge"}), "automerge_label_sha": "b" * 40,
          "automerge_label_by_writer": True}, replace(POLICY, auto_merge=False), NotAsked()),
        # the label counts only while its last adder has write permission (checked at evaluation time)
        ({"labels": frozenset({"codegen: automerge"}), "automerge_label_sha": SHA},
         replace(POLICY, auto_merge=False), NotAsked()),
        ({"labels": frozenset({"codegen: automerge"})}, replace(POLICY, auto_merge=False), NotAsked()),
        ({"open": False}, POLICY, Blocked(("the pull request is closed",))),
        ({"merged": True}, POLICY, Blocked(("the pull request is already merged",))),
        ({"draft": True}, POLICY, Blocked(("the pull request is a draft",))),
        ({"labels": frozenset({"do-not-merge"})}, POLICY, Blocked(("it has the label `do-not-merge`",))),
        ({"labels": frozenset({"codegen: hold"})}, POLICY, Blocked(("it has the label `codegen: hold`",))),
        (
            {"reviews": (Review("alice", "CHANGES_REQUESTED", "1"),)},
            POLICY,
            Blocked(("changes are requested by @alice",)),
        ),
        (
            {"mergeable": False, "mergeable_state": "dirty"},
            POLICY,
            Blocked(("it has merge conflicts with the base branch",)),
        ),
        ({"checks": passing("codegen/build")}, POLICY, Wait(("`codegen/test` to report",))),
        (
            {"checks": {**passing("codegen/build"), "codegen/test": CheckResult("codegen/test", None)}},
            POLICY,
            Wait(("`codegen/test` to finish",)),
        ),
        (
            {"checks": {**passing("codegen/build"), "codegen/test": CheckResult("codegen/test", "failure")}},
            POLICY,
            Blocked(("required check `codegen/test` concluded `failure`",)),
        ),
        (
            {"checks": {**passing("codegen/build"), "codegen/test": CheckResult("codegen/test", "cancelled")}},
            POLICY,
            Blocked(("required check `codegen/test` concluded `cancelled`",)),
        ),
        (
            {"checks": {**passing("codegen/build"), "codegen/test": CheckResult("codegen/test", "skipped")}},
            POLICY,
            Blocked(("required check `codegen/test` was skipped, so nothing was validated",)),
        ),
        ({"required_by_branch": frozenset({"ci/lint"})}, POLICY, Wait(("`ci/lint` to report",))),
        (
            {
                "required_by_branch": frozenset({"ci/lint"}),
                "checks": {**passing("codegen/build", "codegen/test"), "ci/lint": CheckResult("ci/lint", "failure")},
            },
            POLICY,
            Blocked(("required check `ci/lint` concluded `failure`",)),
        ),
        ({"mergeable": None, "mergeable_state": "unknown"}, POLICY, Wait(("GitHub to compute mergeability",))),
        ({"validated_sha": "b" * 40}, POLICY, Wait((f"a passing validation of the head commit `{SHA[:12]}`",))),
        ({"validated_sha": None}, POLICY, Wait((f"a passing validation of the head commit `{SHA[:12]}`",))),
    ],
)
def test_each_condition(change: dict[str, object], policy: MergePolicy, expected: object) -> None:
    assert decide_merge(replace(READY, **change), policy) == expected  # type: ignore[arg-type]


def test_blocked_reasons_come_before_waits_and_all_are_listed() -> None:
    pr = replace(
        READY, draft=True, labels=frozenset({"do-not-merge"}), checks=passing("codegen/build"), validated_sha=None
    )
    decision = decide_merge(pr, POLICY)
    assert isinstance(decision, Blocked)
    assert decision.reasons == ("the pull request is a draft", "it has the label `do-not-merge`")


def test_a_later_approval_or_dismissal_clears_a_change_request() -> None:
    assert standing_change_requests((Review("a", "CHANGES_REQUESTED", "1"), Review("a", "APPROVED", "2"))) == []
    assert standing_change_requests((Review("a", "CHANGES_REQUESTED", "1"), Review("a", "DISMISSED", "2"))) == []
    assert standing_change_requests((Review("a", "CHANGES_REQUESTED", "1"), Review("a", "COMMENTED", "2"))) == ["a"]
    assert standing_change_requests((Review("a", "APPROVED", "1"), Review("b", "CHANGES_REQUESTED", "2"))) == ["b"]


def test_extra_passing_checks_do_not_matter_and_a_failed_optional_check_does_not_block() -> None:
    pr = replace(READY, checks={**READY.checks, "other/optional": CheckResult("other/optional", "failure")})
    assert isinstance(decide_merge(pr, POLICY), Merge)


def test_unreadable_protection_is_said_in_the_notice_never_taken_as_none() -> None:
    waiting = decide_merge(replace(READY, validated_sha=None, protection_readable=False), POLICY)
    assert isinstance(waiting, Wait) and "branch protection could not be read" in waiting.waiting_for[-1]
    assert decide_merge(replace(READY, protection_readable=False), POLICY) == decide_merge(READY, POLICY)


def test_a_branch_behind_its_base_blocks_or_is_updated() -> None:
    behind = replace(READY, mergeable_state="behind")
    blocked = decide_merge(behind, POLICY)
    assert isinstance(blocked, Blocked) and "behind the base branch" in blocked.reasons[0]
    assert decide_merge(behind, replace(POLICY, update_branch=True)) == UpdateBranch(SHA)


def test_a_merge_github_blocks_waits_and_says_so() -> None:
    waiting = decide_merge(replace(READY, mergeable_state="blocked"), POLICY)
    assert isinstance(waiting, Wait) and "GitHub to unblock it" in waiting.waiting_for[0]
