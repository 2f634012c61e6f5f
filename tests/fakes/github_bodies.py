"""Response bodies of the fake GitHub, built from the REST description's own examples.

Every body starts as a deep copy of the example GitHub documents for that operation (or for the
embedded object), then the fields that carry the fake's state are overwritten: ids, numbers, names,
shas, states, timestamps, URLs of the objects the bot may follow. Anything not overwritten keeps the
example's value, so bodies look like GitHub's; FakeGitHub checks every body against the schema anyway.

Decisions:
- `url`-style fields of the objects the fake owns point at the fake (`api_url`); `html_url`s point at
  https://github.com like GitHub's.
- User ids are derived from the login (stable across a test), bots are typed "Bot".
- Examples that GitHub leaves inconsistent with its own schema (e.g. a repository without `language`,
  a team without `type`) are completed here, so the fake never sends what its contract forbids.

`Bodies` puts together one builder per family: github_bodies_base.py (examples, users, apps,
installations, repositories, labels, contents, permissions), github_bodies_issues.py,
github_bodies_pulls.py and github_bodies_checks.py.
"""

from __future__ import annotations

from tests.fakes.github_bodies_base import iso
from tests.fakes.github_bodies_checks import CheckBodies
from tests.fakes.github_bodies_issues import IssueBodies
from tests.fakes.github_bodies_pulls import PullBodies

__all__ = ["Bodies", "iso"]


class Bodies(IssueBodies, PullBodies, CheckBodies):
    """Builds JSON bodies from the description's examples (see module docstring)."""
