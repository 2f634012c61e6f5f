"""The merge notice (pure): every blocking reason the decision gives is listed with a link to act on it."""

from __future__ import annotations

from dataclasses import replace

from handlers.merge.decide import (
    Blocked,
    CheckResult,
    MergePolicy,
    PullSnapshot,
    Review,
    decide_merge,
)
from handlers.merge.texts import notice

URL = "https://github.com/octo-org/app/pull/7"


def test_each_blocking_reason_is_listed_with_where_to_resolve_it() -> None:
    pr = PullSnapshot(
        number=7, open=True, merged=False, draft=True, head_sha="a" * 40, mergeable=False, mergeable_state="dirty",
        labels=frozenset({"codegen: hold"}), reviews=(Review("rev", "CHANGES_REQUESTED", "2026-01-01"),),
        checks={"ci/test": CheckResult("ci/test", "failure")}, validated_sha="a" * 40, merge_command_sha="a" * 40,
    )
    decision = decide_merge(pr, MergePolicy(auto_merge=False, method="squash", required_checks=("ci/test",)))
    assert isinstance(decision, Blocked)
    text = notice(decision, pr.head_sha, URL)
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines == [
        f"- the pull request is a draft ([mark it ready for review]({URL}))",
        f"- it has the label `codegen: hold` ([labels]({URL}))",
        f"- changes are requested by @rev ([reviews]({URL}/files))",
        f"- it has merge conflicts with the base branch ([resolve conflicts]({URL}/conflicts))",
        f"- required check `ci/test` concluded `failure` ([checks]({URL}/checks))",
    ]
    assert "`aaaaaaaaaaaa`" in text.splitlines()[0]


def test_a_reason_given_as_plain_text_is_listed_without_a_link() -> None:
    assert notice(Blocked(("something else",)), "b" * 40, URL).splitlines()[-1] == "- something else"


def test_a_missing_approving_review_required_by_a_ruleset_blocks_and_links_to_the_review() -> None:
    approved = (Review("ann", "APPROVED", "2026-01-01"), Review("bob", "APPROVED", "2026-01-01"),
                Review("bob", "DISMISSED", "2026-01-02"))
    pr = PullSnapshot(
        number=7, open=True, merged=False, draft=False, head_sha="c" * 40, mergeable=True, mergeable_state="clean",
        labels=frozenset(), reviews=approved, checks={"ci/test": CheckResult("ci/test", "success")},
        validated_sha="c" * 40, merge_command_sha="c" * 40, required_approvals=2,
    )
    policy = MergePolicy(auto_merge=False, method="squash", required_checks=("ci/test",))
    decision = decide_merge(pr, policy)
    assert isinstance(decision, Blocked)
    assert notice(decision, pr.head_sha, URL).splitlines()[-1] == (
        f"- it needs 2 approving review(s) and has 1 ([review it]({URL}/files))")
    assert not isinstance(decide_merge(replace(pr, required_approvals=1), policy), Blocked)
