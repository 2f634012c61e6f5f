"""What every REST handler of the fake GitHub gets, gives back and shares.

A handler gets a `Call` (already contract-checked and authenticated by FakeGitHub) and returns a `Reply`
or raises `HttpError`. `Operations` is the base of each family of handlers (github_rest_*.py): the world,
the body builder, and the lookups and pagination they all do the same way.

Decisions:
- Lists are paginated like GitHub (`per_page` default 30, max 100, `page`), with a `Link` header.
- A missing object, or one that belongs to another repository, is 404 "Not Found".
- Comments, check runs, statuses and reactions created with an installation token are authored by the
  app's bot user ("<slug>[bot]").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from tests.fakes.github_auth import Credentials
from tests.fakes.github_bodies import Bodies
from tests.fakes.github_state import App, Reaction, Repo, World

DOCS = "https://docs.github.com/rest"
JSON = "application/json; charset=utf-8"
MAX_TEXT = 65535  # check run output fields (UTF-8 bytes)

T = TypeVar("T")


def error_body(
    message: str,
    status: int | None = None,
    errors: list[dict[str, Any]] | None = None,
    documentation_url: str = DOCS,
) -> dict[str, Any]:
    """GitHub's `basic-error` (with `status` when given), or its `validation-error` when `errors` is given."""
    body: dict[str, Any] = {"message": message, "documentation_url": documentation_url}
    if status is not None and errors is None:
        body["status"] = str(status)
    if errors is not None:
        body["errors"] = errors
    return body


@dataclass
class Reply:
    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


class HttpError(Exception):
    """An error answer; the body is GitHub's basic-error (or validation-error when `errors` is given)."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.status, self.errors)

    def reply(self) -> Reply:
        return Reply(self.status, self.body(), headers=self.headers)


@dataclass
class Call:
    """One authenticated, contract-checked request."""

    operation_id: str
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    headers: Mapping[str, str]
    creds: Credentials


Handler = Callable[[Call], Awaitable[Reply]]


def not_found() -> HttpError:
    return HttpError(404, "Not Found")


def invalid(message: str, resource: str, field_name: str, code: str = "invalid") -> HttpError:
    return HttpError(422, message, [{"resource": resource, "field": field_name, "code": code}])


def lookup(items: Mapping[int, T], key: str, repo: Repo | None = None) -> T:
    """`items[int(key)]` (key: a path parameter); 404 when missing or, given `repo`, in another repository."""
    item = items.get(int(key))
    if item is None or (repo is not None and getattr(item, "repo", None) != repo.full_name):
        raise not_found()
    return item


class Operations:
    """Base of a family of handlers; `handlers()` maps its operationIds to its methods."""

    def __init__(self, world: World, bodies: Bodies, api_url: Callable[[], str]) -> None:
        self.world = world
        self.bodies = bodies
        self._api_url = api_url

    def handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    def _now(self) -> float:
        return self.world.clock()

    def _repo_url(self, repo: Repo) -> str:
        return f"{self._api_url()}/repos/{repo.full_name}"

    def _caller_app(self, call: Call) -> App:
        assert call.creds.token is not None
        inst = self.world.installations[call.creds.token.installation_id]
        return self.world.apps[inst.app_id]

    def _actor(self, call: Call) -> tuple[str, str]:
        """(login, type) of whoever writes: the app's bot for installation tokens."""
        return self._caller_app(call).bot_login, "Bot"

    def _repo(self, call: Call) -> Repo:
        return self.world.repos[f"{call.params['owner']}/{call.params['repo']}"]

    def _page(self, call: Call, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """GitHub pagination: the slice for ?page/per_page and a Link header."""
        per_page = max(1, min(100, int(call.query.get("per_page", 30))))
        page = max(1, int(call.query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                query = dict(call.query, page=str(number), per_page=str(per_page))
                links.append(f'<{self._api_url()}{quote(call.path)}?{urlencode(query)}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page : page * per_page], headers

    def _react(self, call: Call, reactions: list[Reaction]) -> Reply:
        """A reaction on a comment: 201 when new, 200 with the existing one when the same user already left
        the same reaction (docs.github.com "Create reaction for an issue comment")."""
        login, _ = self._actor(call)
        content = call.body["content"]
        for reaction in reactions:
            if reaction.user == login and reaction.content == content:
                return Reply(200, self.bodies.reaction(reaction))
        reaction = Reaction(self.world.ids.next_id(), content, login, self._now())
        reactions.append(reaction)
        return Reply(201, self.bodies.reaction(reaction))

    def _paged(self, call: Call, items: list[T], body: Callable[[T], Any]) -> Reply:
        """A 200 answer with one page of `items`, each turned into its body."""
        page, headers = self._page(call, items)
        return Reply(200, [body(item) for item in page], headers=headers)
