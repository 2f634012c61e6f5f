"""Which Codegen organisation serves a repository (CODEGEN_ORG_MAP_PATH, an app-level file).

The file is YAML (or JSON) mapping `owner/repo` or `owner` to an organisation id:

    octo-org/widgets: 42     # this repository
    octo-org: 7              # every other repository of octo-org

A repository's own entry beats its owner's, which beats CODEGEN_ORG_ID. Matching ignores case. The
mapping lives with the App, never in a repository's config (repositories carry no secrets or routing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


class OrgMapError(ValueError):
    pass


@dataclass(frozen=True)
class CodegenOrgMap:
    entries: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None) -> CodegenOrgMap:
        if path is None or str(path) == "":
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise OrgMapError(f"CODEGEN_ORG_MAP_PATH: cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            raise OrgMapError(f"CODEGEN_ORG_MAP_PATH: {path} must map owner or owner/repo to an org id")
        entries: dict[str, int] = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise OrgMapError(f"CODEGEN_ORG_MAP_PATH: {path}: {key}: the org id must be an integer")
            entries[str(key).lower()] = value
        return cls(entries)

    def org_for(self, owner: str, repo: str, default: int | None) -> int | None:
        return self.entries.get(f"{owner}/{repo}".lower(), self.entries.get(owner.lower(), default))
