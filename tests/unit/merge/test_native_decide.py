"""When the decision hands the wait to GitHub's own auto-merge (`merge.use_github_auto_merge`), and when not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.merge.decide import (
    CheckResult,
    EnableAutoMerge,
    Merge,
    MergePolicy,
    PullSnapshot,
    Wait,
    asked_before_gathering,
    decide_merge,
)

SHA = "b" * 40
NATIVE = MergePolicy(auto_merge=True, method="squash", required_checks=("codegen/test", "ci/e2e"),
                     use_github_auto_merge=True)
# codegen/test passed; ci/e2e (required by branch protection too) still runs; GitHub says "blocked"
WAITING = PullSnapshot(
    number=3, open=True, merged=False, draft=False, head_sha=SHA, mergeable=True, mergeable_state="blocked",
    labels=frozenset(), reviews=(), validated_sha=SHA, required_by_branch=frozenset({"ci/e2e"}),
    checks={"codegen/test": CheckResult("codegen/test", "success"), "ci/e2e": CheckResult("ci/e2e", None)},
)


def test_everything_left_is_enforced_by_github_so_its_auto_merge_is_enabled_for_the_head() -> None:
    decision = decide_merge(WAITING, NATIVE)
    assert isinstance(decision, EnableAutoMerge)
    assert decision.sha == SHA and decision.method == "squash"
    assert any("ci/e2e" in w for w in decision.waiting_for)


@pytest.mark.parametrize("change, why", [
    ({"validated_sha": "c" * 40}, "our validation of this head has not passed"),
    ({"required_by_branch": frozenset()}, "ci/e2e is required only by the config: GitHub would not wait for it"),
    ({"protection_readable": False}, "what GitHub enforces is unknown"),
    ({"native_auto_merge_sha": SHA}, "already tried for this head"),
])
def test_it_stays_with_the_bot(change: dict[str, object], why: str) -> None:
    assert isinstance(decide_merge(replace(WAITING, **change), NATIVE), Wait), why  # type: ignore[arg-type]


def test_a_check_tied_to_an_app_only_by_the_config_stays_with_the_bot() -> None:
    policy = replace(NATIVE, app_pinned=frozenset({"ci/e2e"}))
    assert isinstance(decide_merge(WAITING, policy), Wait)


def test_without_the_setting_the_bot_waits() -> None:
    assert isinstance(decide_merge(WAITING, replace(NATIVE, use_github_auto_merge=False)), Wait)


def test_a_clean_pull_request_is_merged_directly_and_not_handed_to_github() -> None:
    clean = replace(WAITING, mergeable_state="clean", checks={
        "codegen/test": CheckResult("codegen/test", "success"), "ci/e2e": CheckResult("ci/e2e", "success")})
    assert decide_merge(clean, NATIVE) == Merge(SHA, "squash", ("ci/e2e", "codegen/test"))


def test_a_clean_pull_request_github_is_already_merging_is_left_to_github() -> None:
    clean = replace(WAITING, mergeable_state="clean", native_auto_merge_sha=SHA, native_auto_merge_on=True, checks={
        "codegen/test": CheckResult("codegen/test", "success"), "ci/e2e": CheckResult("ci/e2e", "success")})
    assert isinstance(decide_merge(clean, NATIVE), Wait)


@pytest.mark.parametrize("auto, labels, command, label_sha, asked", [
    (True, [], None, None, True),
    (False, [], None, None, False),
    (False, [], SHA, None, True),
    (False, [], "c" * 40, None, False),  # a command given for an older head
    (False, ["codegen: automerge"], None, SHA, True),
    (False, ["codegen: automerge"], None, None, False),  # a label nobody with write permission added
    (False, [], None, SHA, False),  # the label was removed since
])
def test_asked_before_gathering(auto: bool, labels: list[str], command: str | None, label_sha: str | None,
                                asked: bool) -> None:
    assert asked_before_gathering(auto, SHA, labels, command, label_sha) is asked
