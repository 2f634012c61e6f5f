"""REST handlers of the fake GitHub for apps and installations: the authenticated app, installation
tokens, manifest conversions, the rate limit, a repository and its installation.

Decisions:
- A token may be narrowed to some of the installation's repositories (by name or id) and to permissions
  the installation has; anything else is 422, like GitHub.
- A manifest code works once.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github_access import LEVELS
from tests.fakes.github_auth import mint_token
from tests.fakes.github_bodies import iso
from tests.fakes.github_rest_base import Call, Handler, HttpError, Operations, Reply, invalid, not_found
from tests.fakes.github_state import Installation

NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible to the parent installation."
)


class AppOperations(Operations):
    def handlers(self) -> dict[str, Handler]:
        return {
            "apps/get-authenticated": self.get_app,
            "apps/create-installation-access-token": self.create_token,
            "apps/create-from-manifest": self.manifest_conversion,
            "rate-limit/get": self.rate_limit,
            "repos/get": self.get_repo,
            "apps/get-repo-installation": self.repo_installation,
        }

    async def get_app(self, call: Call) -> Reply:
        assert call.creds.app is not None
        return Reply(200, self.bodies.app(call.creds.app))

    def _token_repos(self, inst: Installation, body: dict[str, Any]) -> list[str] | None:
        """The repositories a token request narrows to (None: all of the installation's)."""
        if not (body.get("repositories") or body.get("repository_ids")):
            return None
        repos: list[str] = []
        for name in body.get("repositories") or []:
            full = f"{inst.account}/{name}"
            if full not in inst.repos:
                raise invalid(NOT_ACCESSIBLE, "Installation", "repositories")
            repos.append(full)
        for ident in body.get("repository_ids") or []:
            match = [r for r in inst.repos if r in self.world.repos and self.world.repos[r].id == ident]
            if not match:
                raise invalid(NOT_ACCESSIBLE, "Installation", "repository_ids")
            repos.extend(match)
        return repos

    async def create_token(self, call: Call) -> Reply:
        assert call.creds.app is not None
        inst = self.world.installations.get(int(call.params["installation_id"]))
        if inst is None or inst.app_id != call.creds.app.id:
            raise not_found()
        if inst.suspended:
            raise HttpError(403, "This installation has been suspended")
        body = call.body or {}
        repos = self._token_repos(inst, body)
        requested = body.get("permissions") or {}
        for key, level in requested.items():
            if LEVELS.get(inst.permissions.get(key, ""), 0) < LEVELS.get(level, 3):
                raise invalid(
                    "The permissions requested are not granted to this installation.", "Installation", "permissions"
                )
        permissions = dict(requested) if requested else dict(inst.permissions)
        token = mint_token(self.world, inst, repos, permissions)
        reply = self.bodies.example("/app/installations/{installation_id}/access_tokens", "post", "201")
        reply.update(
            token=token.token,
            expires_at=iso(token.expires_at),
            permissions=permissions,
            repository_selection="selected" if repos is not None else inst.repository_selection,
        )
        if repos is None:
            reply.pop("repositories", None)
        else:
            reply["repositories"] = [self.bodies.repo_simple(self.world.repos[r]) for r in repos]
        return Reply(201, reply)

    async def manifest_conversion(self, call: Call) -> Reply:
        app = self.world.manifest_codes.pop(call.params["code"], None)
        if app is None:
            raise not_found()
        self.world.apps[app.id] = app
        body = self.bodies.example("/app-manifests/{code}/conversions", "post", "201")
        body.update(self.bodies.app(app))
        body.update(
            client_id=app.client_id,
            client_secret=app.client_secret,
            webhook_secret=app.webhook_secret,
            pem=app.private_key_pem,
        )
        return Reply(201, body)

    async def rate_limit(self, call: Call) -> Reply:
        body = self.bodies.example("/rate_limit", "get", "200")
        reset = int(self._now()) + 3600
        for resource in [body["rate"], *body["resources"].values()]:
            resource["reset"] = reset
        return Reply(200, body)

    async def repo_installation(self, call: Call) -> Reply:
        assert call.creds.app is not None
        full = f"{call.params['owner']}/{call.params['repo']}"
        inst = self.world.installation_for(full)
        if inst is None or inst.app_id != call.creds.app.id:
            raise not_found()
        return Reply(200, self.bodies.installation(inst, call.creds.app))

    async def get_repo(self, call: Call) -> Reply:
        return Reply(200, self.bodies.repo_full(self._repo(call)))
