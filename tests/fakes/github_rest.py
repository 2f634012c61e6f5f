"""The fake GitHub's REST operations: one handler per operationId of rest-subset.json.

`RestOperations.handlers` maps every operationId the fake serves to its handler. The handlers live in
one module per family of the REST API, each with the rules GitHub enforces beyond the schema:

    github_rest_apps.py     the app, installation tokens, manifest conversions, rate limit, repository
    github_rest_checks.py   check runs, annotations, check suites, commit statuses
    github_rest_issues.py   issues, comments, labels, reactions
    github_rest_pulls.py    pull requests, their files and reviews, merge, update-branch
    github_rest_repos.py    contents, comparisons, permissions, branch protection and rules, refs
    github_rest_review_comments.py  pull request review comments: list, reply in a thread, reactions
    github_rest_hook_deliveries.py  the App webhook's deliveries: list, get, redeliver (github_hook_state.py)
    github_rest_orgs.py     organization teams: a user's team membership
    github_oauth.py         a user access token's user, installations and repositories (and GitHub sign-in)

What a handler gets and gives (`Call`, `Reply`, `HttpError`) and what they share is in
github_rest_base.py; who may call what (`LEVELS`) in github_access.py.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes.github_access import LEVELS
from tests.fakes.github_bodies import Bodies
from tests.fakes.github_oauth import OAuthOperations
from tests.fakes.github_rest_apps import AppOperations
from tests.fakes.github_rest_base import DOCS, Call, Handler, HttpError, Reply
from tests.fakes.github_rest_checks import CheckOperations
from tests.fakes.github_rest_hook_deliveries import HookDeliveryOperations
from tests.fakes.github_rest_issues import IssueOperations
from tests.fakes.github_rest_orgs import OrgOperations
from tests.fakes.github_rest_pulls import PullOperations
from tests.fakes.github_rest_repos import RepoOperations
from tests.fakes.github_rest_review_comments import ReviewCommentOperations
from tests.fakes.github_state import World

__all__ = ["DOCS", "LEVELS", "Call", "HttpError", "Reply", "RestOperations"]

FAMILIES = (
    AppOperations, CheckOperations, IssueOperations, PullOperations, RepoOperations, ReviewCommentOperations,
    HookDeliveryOperations, OrgOperations, OAuthOperations,
)


class RestOperations:
    """Handlers for every REST operation the fake serves, keyed by operationId in `handlers`."""

    def __init__(self, world: World, bodies: Bodies, api_url: Callable[[], str]) -> None:
        self.world = world
        self.bodies = bodies
        self.handlers: dict[str, Handler] = {}
        for family in FAMILIES:
            self.handlers.update(family(world, bodies, api_url).handlers())
