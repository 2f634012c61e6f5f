"""What the bot says about merging: the "why not merged" notice, the merge report, refusals (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.merge.decide import (
    AUTOMERGE_LABEL,
    HOLD_LABEL,
    Blocked,
    EnableAutoMerge,
    Merge,
    MergeDecision,
    UpdateBranch,
    Wait,
)

if TYPE_CHECKING:
    from handlers.merge.undo import Withdrawal


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


#: where a person acts on each kind of blocking reason: (link text, path below the pull request's page)
ACT_ON = {
    "draft": ("mark it ready for review", ""),
    "label": ("labels", ""),
    "changes_requested": ("reviews", "/files"),
    "review": ("review it", "/files"),
    "conflicts": ("resolve conflicts", "/conflicts"),
    "check": ("checks", "/checks"),
    "behind": ("update branch", ""),
    "closed": ("pull request", ""),
    "merged": ("pull request", ""),
}


def notice(decision: Blocked, head_sha: str, pr_url: str | None = None) -> str:
    """The merge notice of a blocked head: one line per blocking reason, each with a link to where it is
    resolved (the SHA makes a new head's notice a new one)."""
    lines = [f"**Not merged** — head `{head_sha[:12]}`. What blocks it:", ""]
    for reason in decision.reasons:
        act = ACT_ON.get(getattr(reason, "kind", ""))
        link = f" ([{act[0]}]({pr_url}{act[1]}))" if act and pr_url else ""
        lines.append(f"- {reason}{link}")
    return "\n".join(lines)


def resolved(merge_sha: str, head_sha: str) -> str:
    """The merge notice once the pull request merged: marked resolved, in place."""
    return f"✅ **Resolved**: merged `{head_sha[:12]}` (merge commit `{merge_sha[:12]}`); nothing blocks it any more."


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


def withdrawal(user: str, taken: Withdrawal, *, auto_merge: bool) -> str:
    """The answer to `/codegen merge cancel` or `/codegen hold`: what was taken back, and what still holds."""
    parts = []
    if taken.request_by:
        parts.append(f"the merge request by @{taken.request_by}")
    if taken.label:
        parts.append(f"the `{AUTOMERGE_LABEL}` label")
    if taken.native:
        parts.append("GitHub's auto-merge")
    if taken.queue:
        parts.append("the pull request's merge-queue entry")
    said = (f"@{user} withdrew " + ", ".join(parts) + ".") if parts else (
        f"@{user} there was no merge request to withdraw.")
    if taken.failures:
        said += " Not withdrawn: " + "; ".join(taken.failures) + "."
    if taken.held:
        said += f" The `{HOLD_LABEL}` label is on: nothing merges this pull request until it is removed."
    elif auto_merge:
        said += (" `merge.auto_merge` is on in this repository's config, so the next passing evaluation merges"
                 f" again: `/codegen hold` (the `{HOLD_LABEL}` label) stops that.")
    return said


def hold_label_added(taken: Withdrawal) -> str:
    """The hold label was added by hand and something was under way: what it stopped."""
    stopped = [what for what, done in (("GitHub's auto-merge", taken.native),
                                       ("the merge-queue entry", taken.queue)) if done]
    said = f"The `{HOLD_LABEL}` label is on: " + (("withdrew " + " and ".join(stopped) + "; ") if stopped else "")
    said += "nothing the bot does merges this pull request until the label is removed."
    if taken.failures:
        said += " Not withdrawn: " + "; ".join(taken.failures) + "."
    return said


def enqueued(decision: Merge, position: int | None) -> str:
    where = f" (position {position})" if position else ""
    return (
        f"Validated `{decision.sha[:12]}` ({checks_list(decision)} passed): the base branch requires GitHub's merge"
        f" queue, so I put exactly this commit in it{where}. GitHub merges it once the queue's checks pass."
    )


def enqueue_refused(decision: Merge, message: str) -> str:
    return (
        f"The base branch requires GitHub's merge queue, and GitHub did not queue `{decision.sha[:12]}`"
        f" ({message or 'no message'}). A new validation follows any new push."
    )


def left_train_failed(head_sha: str) -> str:
    return (
        f"Left the merge train: the validation of `{head_sha[:12]}` on top of the base branch failed, so it does"
        " not merge (the next pull request in line goes). A new push that passes boards the train again."
    )
