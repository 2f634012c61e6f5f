"""What the bot says about merging: the "why not merged" notice, the merge report, refusals (pure)."""

from __future__ import annotations

from handlers.merge.decide import (
    AUTOMERGE_LABEL,
    Blocked,
    EnableAutoMerge,
    Merge,
    MergeDecision,
    UpdateBranch,
    Wait,
)


def describe(decision: MergeDecision) -> str:
    if isinstance(decision, Blocked):
        return "This pull request will not merge: " + "; ".join(decision.reasons) + "."
    if isinstance(decision, Wait):
        return "Ready to merge once these arrive: " + "; ".join(decision.waiting_for) + "."
    if isinstance(decision, Merge):
        return f"Every required check passed on `{decision.sha[:12]}`; merging."
    if isinstance(decision, UpdateBranch):
        return f"`{decision.sha[:12]}` is behind the base branch; updating the branch first."
    if isinstance(decision, EnableAutoMerge):
        return "Ready to merge once these arrive (GitHub's auto-merge): " + "; ".join(decision.waiting_for) + "."
    return decision.reason


def notice(decision: Blocked, head_sha: str) -> str:
    """The merge notice of a blocked head (the SHA makes a new head's notice a new one)."""
    return f"{describe(decision)} (head `{head_sha[:12]}`)"


def checks_list(decision: Merge) -> str:
    return ", ".join(f"`{c}`" for c in decision.checks) or "none required"


def auto_merge_enabled(decision: EnableAutoMerge) -> str:
    return (
        f"Validated `{decision.sha[:12]}`: GitHub's auto-merge is enabled for exactly this commit"
        f" ({decision.method}). GitHub merges it once these arrive: " + "; ".join(decision.waiting_for) + "."
    )


def auto_merge_refused(sha: str, message: str) -> str:
    return (
        f"GitHub did not enable its auto-merge for `{sha[:12]}` ({message or 'no message'}); the bot merges"
        " this commit itself once every required check passes."
    )


def auto_merge_disabled(old_sha: str, new_sha: str) -> str:
    return (
        f"New commits were pushed (`{new_sha[:12]}`): GitHub's auto-merge, enabled for `{old_sha[:12]}`, is"
        " turned off until the new head is validated."
    )


def merged(decision: Merge, merge_sha: str) -> str:
    return (
        f"Merged `{decision.sha[:12]}` ({decision.method}) after validating exactly that commit:"
        f" {checks_list(decision)} passed. Merge commit: `{merge_sha[:12]}`."
    )


def merge_refused(decision: Merge, status: int, message: str) -> str:
    """GitHub's own words are always quoted: they name what the bot could not see (a rule, a permission)."""
    why = "its head moved after validation" if status == 409 else "GitHub refused the merge"
    return (
        f"Did not merge `{decision.sha[:12]}`: {why} ({status}: {message or 'no message'})."
        " A new validation follows any new push."
    )


def branch_updated(old_sha: str) -> str:
    return (
        f"`{old_sha[:12]}` passed but its branch was behind the base branch: I updated the branch"
        " (`merge.update_branch`); the new head is validated before anything merges."
    )


def label_removed(sender: str) -> str:
    return (
        f"@{sender} the `{AUTOMERGE_LABEL}` label asks the bot to merge, which needs write"
        " permission; I removed it."
    )


def withdrawn(old_sha: str, new_sha: str) -> str:
    return (
        f"New commits were pushed (`{new_sha[:12]}`): the merge request given at `{old_sha[:12]}` no longer"
        " holds, and the automerge label was removed. Ask again with `/codegen merge` (or the label) once"
        " the new head is what you want merged."
    )
