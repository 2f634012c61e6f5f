"""`app.yml` asks for what the handlers use, and nothing more (issue 13, item 11)."""

from __future__ import annotations

from pathlib import Path

import yaml

from entrypoints.app import ROUTER

APP_YML = Path(__file__).resolve().parents[2] / "app.yml"
#: GitHub delivers these to every App; a manifest cannot list them
ALWAYS_DELIVERED = {"installation", "installation_repositories"}


def routed_events() -> set[str]:
    """Every event some handler is registered for (gidgethub keeps them by event name)."""
    return set(ROUTER._shallow_routes) | set(ROUTER._deep_routes)


def test_every_subscribed_event_has_a_handler_and_every_handled_event_is_subscribed() -> None:
    manifest = yaml.safe_load(APP_YML.read_text())
    subscribed = set(manifest["default_events"])
    assert subscribed == routed_events() - ALWAYS_DELIVERED


def test_no_permission_that_needs_an_org_owners_approval_and_is_unused() -> None:
    permissions = yaml.safe_load(APP_YML.read_text())["default_permissions"]
    assert "members" not in permissions
