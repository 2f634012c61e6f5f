"""The fake GitHub's POST /graphql: only the auto-merge and merge-queue mutations
(enablePullRequestAutoMerge, disablePullRequestAutoMerge, enqueuePullRequest, dequeuePullRequest).

The input field names and types are those of tests/fixtures/github/graphql-automerge.md and
graphql-merge-queue.md (GitHub's schema.graphql); the merge queue lives in github_graphql_queue.py.
This is not a GraphQL implementation: a small parser (graphql_parse.py) reads one mutation with one
top-level field, its `input:` argument (a `$variable` or an object literal whose values are
variables or literals), and the selection set, which decides the shape of the answer like GraphQL would.

What the fake refuses, and how:
- A query or mutation other than these four, an unknown input field, a missing or wrongly typed field,
  a variable declared with the wrong type, or a selected field the fake does not know: `GraphQLContract`
  (FakeGitHub records it as a contract violation) and an `errors` answer like GitHub's validation errors.
- Domain refusals that GitHub answers with `errors` (the request itself is fine): unknown node id,
  auto-merge not allowed on the repository, pull request already clean or a draft or closed,
  `expectedHeadOid` not the head; for the merge queue, see github_graphql_queue.py.

Decisions:
- The pull request node id is `Pull.node_id`; `autoMergeRequest` reflects `Pull.auto_merge`, which is
  also what REST `auto_merge` shows.
- Known selectable fields: auto-merge payloads `actor`, `clientMutationId`, `pullRequest`; queue payloads
  `clientMutationId`, `mergeQueueEntry`; PullRequest `id`, `number`, `url`, `title`, `state`, `isDraft`,
  `merged`, `headRefOid`, `headRefName`, `baseRefName`, `autoMergeRequest`, `isInMergeQueue`,
  `isMergeQueueEnabled`, `mergeQueueEntry`; AutoMergeRequest and MergeQueueEntry (all fields in the
  notes); Commit `oid`, `abbreviatedOid`, `url`; MergeQueue `id`, `url`, `resourcePath`,
  `nextEntryEstimatedTimeToMerge`; Actor `login`, `avatarUrl`, `url`; `__typename` anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes import github_graphql_queue as queue
from tests.fakes.github_bodies import iso
from tests.fakes.github_state import Pull, Repo, World
from tests.fakes.graphql_parse import GraphQLContract, Selection, Var, parse

__all__ = ["GraphQL", "GraphQLContract"]

MERGE_METHODS = ("MERGE", "REBASE", "SQUASH")
INPUTS: dict[str, dict[str, tuple[str, bool]]] = {
    "enablePullRequestAutoMerge": {
        "pullRequestId": ("ID", True),
        "mergeMethod": ("PullRequestMergeMethod", False),
        "commitHeadline": ("String", False),
        "commitBody": ("String", False),
        "authorEmail": ("String", False),
        "expectedHeadOid": ("GitObjectID", False),
        "clientMutationId": ("String", False),
    },
    "disablePullRequestAutoMerge": {
        "pullRequestId": ("ID", True),
        "clientMutationId": ("String", False),
    },
    **queue.INPUTS,
}
#: the input field holding the pull request's node id (dequeuePullRequest names it `id`)
ID_FIELDS = {"dequeuePullRequest": "id"}


def _type_of(mutation: str, suffix: str) -> str:
    """GitHub's naming: enablePullRequestAutoMerge -> EnablePullRequestAutoMergeInput / ...Payload."""
    return f"{mutation[0].upper()}{mutation[1:]}{suffix}"


INPUT_TYPES = {mutation: _type_of(mutation, "Input") for mutation in INPUTS}
_AUTO_MERGE_PAYLOAD: dict[str, str | None] = {"actor": "Actor", "clientMutationId": None, "pullRequest": "PullRequest"}
FIELDS: dict[str, dict[str, str | None]] = {
    "EnablePullRequestAutoMergePayload": dict(_AUTO_MERGE_PAYLOAD),
    "DisablePullRequestAutoMergePayload": dict(_AUTO_MERGE_PAYLOAD),
    "PullRequest": {
        "id": None,
        "number": None,
        "url": None,
        "title": None,
        "state": None,
        "isDraft": None,
        "merged": None,
        "headRefOid": None,
        "headRefName": None,
        "baseRefName": None,
        "autoMergeRequest": "AutoMergeRequest",
        **queue.PULL_FIELDS,
    },
    "AutoMergeRequest": {
        "authorEmail": None,
        "commitBody": None,
        "commitHeadline": None,
        "enabledAt": None,
        "enabledBy": "Actor",
        "mergeMethod": None,
        "pullRequest": "PullRequest",
    },
    "Actor": {"login": None, "avatarUrl": None, "url": None},
    **queue.FIELDS,
}


Authorize = Callable[[str], tuple[str, str] | None]


def _check_type(field: str, expected: str, value: Any) -> None:
    if value is None:
        return
    if expected == "PullRequestMergeMethod":
        raw = value[1] if isinstance(value, tuple) else value
        if raw not in MERGE_METHODS:
            raise GraphQLContract(f"Argument '{field}' has an invalid value: expected one of {MERGE_METHODS}")
        return
    if expected == "Boolean":
        if not isinstance(value, bool):
            raise GraphQLContract(f"Argument '{field}' has an invalid value: expected type 'Boolean'")
        return
    if isinstance(value, tuple) or not isinstance(value, str):
        raise GraphQLContract(f"Argument '{field}' has an invalid value: expected type '{expected}'")
    if expected == "GitObjectID" and not re.fullmatch(r"[0-9a-f]{40}", value):
        raise GraphQLContract(f"Argument '{field}' has an invalid value: not a git object id")


def _input_data(
    mutation: str, raw_input: Any, declared: dict[str, str], variables: dict[str, Any]
) -> dict[str, Any]:
    """The `input:` argument with its variables substituted, their declared types checked."""
    input_type = INPUT_TYPES[mutation]
    if isinstance(raw_input, Var):
        decl = declared.get(raw_input.name)
        if decl != f"{input_type}!":
            raise GraphQLContract(
                f"Variable '${raw_input.name}' of type '{decl}' is used where '{input_type}!' is expected"
            )
        value = variables.get(raw_input.name)
        if not isinstance(value, dict):
            raise GraphQLContract(f"Variable '${raw_input.name}' must be an input object")
        return dict(value)
    if not isinstance(raw_input, dict):
        raise GraphQLContract("Argument 'input' must be an input object")
    data = {}
    for key, item in raw_input.items():
        if not isinstance(item, Var):
            data[key] = item
            continue
        spec = INPUTS[mutation].get(key)
        decl = declared.get(item.name)
        if decl is None:
            raise GraphQLContract(f"Variable '${item.name}' is not declared")
        if spec is not None and decl.rstrip("!") != spec[0]:
            raise GraphQLContract(f"Type mismatch on variable ${item.name} and argument {key} ({decl} / {spec[0]})")
        data[key] = variables.get(item.name)
    return data


def _check_input(mutation: str, data: dict[str, Any]) -> None:
    """Every field known and well typed, every required field present."""
    fields = INPUTS[mutation]
    for key, value in data.items():
        if key not in fields:
            raise GraphQLContract(f"InputObject '{INPUT_TYPES[mutation]}' doesn't accept argument '{key}'")
        _check_type(key, fields[key][0], value)
    for key, (_, required) in fields.items():
        if required and data.get(key) is None:
            raise GraphQLContract(f"Argument '{key}' on InputObject '{INPUT_TYPES[mutation]}' is required")


def _enable_refusal(repo: Repo, pull: Pull, data: dict[str, Any]) -> str | None:
    """Why GitHub refuses to enable auto-merge on this pull request, if it does."""
    if not repo.allow_auto_merge:
        return "Pull request Auto merge is not allowed for this repository"
    if pull.state != "open" or pull.merged:
        return "Pull request Pull request is closed"
    if pull.draft:
        return "Pull request Pull request is in draft state"
    if pull.mergeable_state == "clean":
        return "Pull request Pull request is in clean status"
    if data.get("expectedHeadOid") not in (None, pull.head_sha):
        return "Pull request Head sha didn't match expected head sha"
    return None


class GraphQL:
    """Executes the auto-merge and merge-queue mutations against the world."""

    def __init__(self, world: World, actor: Callable[[], str]) -> None:
        self.world = world
        self._actor = actor

    def execute(
        self, document: str, variables: dict[str, Any] | None, authorize: Authorize
    ) -> tuple[str, dict[str, Any]]:
        """(mutation name, response body). GraphQLContract for schema errors. `authorize(repo full name)`
        returns (error type, message) when the caller may not touch that repository's pull requests."""
        declared, top = parse(document)
        if top.name not in INPUTS:
            raise GraphQLContract(
                f"Field '{top.name}' is not served by the fake GitHub (only auto-merge and the merge queue)"
            )
        if set(top.args) != {"input"}:
            raise GraphQLContract(f"'{top.name}' takes exactly one argument, 'input'")
        data = _input_data(top.name, top.args["input"], declared, variables or {})
        _check_input(top.name, data)
        for child in top.children:
            _check_selection(child, _type_of(top.name, "Payload"))
        data = {k: (v[1] if isinstance(v, tuple) else v) for k, v in data.items()}
        return top.name, self._run(top, data, authorize)

    def _find(self, node: str) -> tuple[Repo, Pull] | None:
        for repo in self.world.repos.values():
            for pull in repo.pulls.values():
                if pull.node_id == node:
                    return repo, pull
        return None

    def _run(self, top: Selection, data: dict[str, Any], authorize: Authorize) -> dict[str, Any]:
        node = data[ID_FIELDS.get(top.name, "pullRequestId")]
        found = self._find(node)
        refusal = authorize(found[0].full_name) if found else None
        if found is None or (refusal and refusal[0] == "NOT_FOUND"):
            return _error(top, f"Could not resolve to a node with the global id of '{node}'", "NOT_FOUND")
        if refusal:
            return _error(top, refusal[1], refusal[0])
        repo, pull = found
        payload: dict[str, Any] = {"clientMutationId": data.get("clientMutationId")}
        if top.name in queue.INPUTS:
            entry = queue.run(top.name, self.world, repo, pull, data, self._actor())
            if isinstance(entry, str):
                return _error(top, entry, "UNPROCESSABLE")
            payload["mergeQueueEntry"] = entry
        else:
            problem = self._auto_merge(top.name, repo, pull, data)
            if problem:
                return _error(top, problem, "UNPROCESSABLE")
            payload.update(actor={"login": self._actor()}, pullRequest=pull)
        context = _Context(repo, pull)
        return {"data": {top.alias: context.shape(top.children, payload, _type_of(top.name, "Payload"))}}

    def _auto_merge(self, mutation: str, repo: Repo, pull: Pull, data: dict[str, Any]) -> str | None:
        """Turns auto-merge on or off; why GitHub refuses to, if it does."""
        if mutation == "disablePullRequestAutoMerge":
            pull.auto_merge = None
            return None
        problem = _enable_refusal(repo, pull, data)
        if problem:
            return problem
        pull.auto_merge = {
            "enabled_by": {"login": self._actor()},
            "merge_method": (data.get("mergeMethod") or "MERGE").lower(),
            "commit_title": data.get("commitHeadline"),
            "commit_message": data.get("commitBody"),
            "enabled_at": self.world.clock(),
            "author_email": data.get("authorEmail"),
        }
        return None


def _check_selection(sel: Selection, type_name: str) -> None:
    if sel.name == "__typename":
        return
    fields = FIELDS[type_name]
    if sel.name not in fields:
        raise GraphQLContract(
            f"Field '{sel.name}' doesn't exist on type '{type_name}' (as far as the fake knows)"
        )
    child_type = fields[sel.name]
    if child_type is None and sel.children:
        raise GraphQLContract(f"Selections can't be made on scalars (field '{sel.name}')")
    if child_type is not None:
        if not sel.children:
            raise GraphQLContract(f"Field must have selections (field '{sel.name}' returns {child_type})")
        for child in sel.children:
            _check_selection(child, child_type)


def _pull_value(field: str, pull: Pull, repo: Repo) -> Any:
    values = {
        "id": pull.node_id,
        "number": pull.number,
        "url": f"https://github.com/{repo.full_name}/pull/{pull.number}",
        "title": pull.title,
        "state": "MERGED" if pull.merged else pull.state.upper(),
        "isDraft": pull.draft,
        "merged": pull.merged,
        "headRefOid": pull.head_sha,
        "headRefName": pull.head_ref,
        "baseRefName": pull.base_ref,
        "autoMergeRequest": pull.auto_merge,
        "isInMergeQueue": pull.queue_entry is not None,
        "isMergeQueueEnabled": queue.requires_queue(repo, pull.base_ref),
        "mergeQueueEntry": pull.queue_entry,
    }
    return values[field]


def _auto_merge_value(field: str, value: dict[str, Any], pull: Pull) -> Any:
    return {
        "authorEmail": value.get("author_email"),
        "commitBody": value.get("commit_message"),
        "commitHeadline": value.get("commit_title"),
        "enabledAt": iso(value.get("enabled_at")),
        "enabledBy": value.get("enabled_by"),
        "mergeMethod": str(value.get("merge_method", "merge")).upper(),
        "pullRequest": pull,
    }[field]


def _actor_value(field: str, value: dict[str, Any]) -> Any:
    login = value["login"]
    return {
        "login": login,
        "avatarUrl": "https://avatars.githubusercontent.com/u/1",
        "url": f"https://github.com/{login}",
    }[field]


@dataclass
class _Context:
    """What the answer of one mutation is about: its repository and pull request."""

    repo: Repo
    pull: Pull

    def value(self, type_name: str, field: str, value: Any) -> Any:
        """The raw value of `field` of an object of `type_name` (objects unshaped)."""
        if type_name == "PullRequest":
            return _pull_value(field, value, self.repo)
        if type_name == "AutoMergeRequest":
            return _auto_merge_value(field, value, self.pull)
        if type_name == "Actor":
            return _actor_value(field, value)
        if type_name == "MergeQueueEntry":
            return queue.entry_value(field, value, self.repo, self.pull)
        if type_name == "Commit":
            return queue.commit_value(field, value, self.repo)
        if type_name == "MergeQueue":
            return queue.merge_queue_value(field, value)
        return value[field]  # a payload

    def shape(self, selections: list[Selection], value: Any, type_name: str) -> Any:
        """The answer for a selection set, like GraphQL shapes it."""
        if value is None:
            return None
        out: dict[str, Any] = {}
        for sel in selections:
            if sel.name == "__typename":
                out[sel.alias] = type_name
                continue
            child_type = FIELDS[type_name][sel.name]
            raw = self.value(type_name, sel.name, value)
            out[sel.alias] = self.shape(sel.children, raw, child_type) if child_type else raw
        return out


def _error(top: Selection, message: str, kind: str) -> dict[str, Any]:
    return {
        "data": {top.alias: None},
        "errors": [
            {"type": kind, "path": [top.alias], "locations": [{"line": 1, "column": 1}], "message": message}
        ],
    }
