"""The setup page's form: where it posts, and the App manifest it carries."""

from __future__ import annotations

import html
import json
import re


def form_of(page: str) -> tuple[str, dict[str, object]]:
    """The form's action URL and its decoded `manifest` field."""
    action = re.search(r'<form action="([^"]+)"', page)
    manifest = re.search(r'name="manifest" value="([^"]+)"', page)
    assert action and manifest, "the page has no setup form"
    return html.unescape(action.group(1)), json.loads(html.unescape(manifest.group(1)))
