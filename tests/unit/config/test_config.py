"""`.github/codegen.yml`: schema, defaults, errors with lines, `_extends`, cache, and `check-config`."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from config.check import check_config_command
from config.loader import FetchedFile, RepoConfigLoader, deep_merge, load_text, parse_extends
from config.schema import RepoConfig


def test_no_file_means_the_documented_defaults() -> None:
    c = RepoConfig()
    assert c.agent.min_permission == "write" and c.agent.prompt_prefix == "" and c.agent.max_fix_attempts == 3
    s = c.snapshot
    assert (s.image, s.workdir, s.env, s.setup, s.build, s.test, s.deploy) == (
        "python:3.12-slim", "/workspace", {}, [], [], [], None)
    assert (s.port, s.timeout_minutes, s.step_timeout_minutes) == (8000, 30, 10)
    assert (s.resources.cpus, s.resources.memory_bytes, s.resources.pids) == (2, 2 * 1024**3, 512)
    assert (c.health_check.path, c.health_check.timeout_seconds) == ("/", 60)
    assert not c.web_eval.enabled
    assert c.analysis.enabled and c.analysis.languages == ["python", "javascript", "typescript"]
    m = c.merge
    assert (m.auto_merge, m.method, m.required_checks, m.delete_branch, m.validate_drafts) == (
        False, "squash", ["codegen/build", "codegen/test"], True, False)


def test_a_full_valid_file() -> None:
    loaded = load_text(textwrap.dedent("""\
        agent: {min_permission: maintain, prompt_prefix: "Be brief.", max_fix_attempts: 1}
        snapshot:
          dockerfile: ci/Dockerfile
          env: {PORT: 8000, DEBUG: true, NAME: app}
          setup: [pip install -r requirements.txt]
          test: [pytest -q]
          deploy: python -m app
          resources: {cpus: 0.5, memory: 512m, pids: 128}
        web_eval:
          viewport: {width: 390, height: 844}
          pages: [{path: /, text: Welcome}]
          flows:
            - name: login
              steps: [{goto: /login}, {fill: {selector: "#u", value: a}}, {press: Enter}]
        merge: {auto_merge: true, method: rebase}
        """))
    assert loaded.ok, loaded.errors
    c = loaded.config
    assert c is not None
    assert c.agent.min_permission == "maintain"
    assert c.snapshot.env == {"PORT": "8000", "DEBUG": "true", "NAME": "app"}
    assert c.snapshot.resources.memory_bytes == 512 * 1024**2
    assert c.web_eval.size == (390, 844)
    assert [s.kind for s in c.web_eval.flows[0].steps] == ["goto", "fill", "press"]
    assert c.merge.method == "rebase" and c.merge.required_checks == ["codegen/build", "codegen/test"]


def test_every_error_is_listed_with_its_key_path_and_line() -> None:
    loaded = load_text(textwrap.dedent("""\
        agent:
          min_permission: owner
        snapshot:
          port: 99999
          tset: [pytest]
          resources: {memory: lots}
        web_eval:
          flows:
            - name: x
              steps:
                - {click: a, goto: /}
        merge:
          method: fast
        """), "codegen.yml")
    assert loaded.config is None and not loaded.ok
    found = {(e.path, e.line) for e in loaded.errors}
    assert found == {
        ("agent.min_permission", 2), ("snapshot.port", 4), ("snapshot.tset", 5),
        ("snapshot.resources.memory", 6), ("web_eval.flows[0].steps[0]", 11), ("merge.method", 13),
    }
    assert str(loaded.errors[0]).startswith("codegen.yml:2: agent.min_permission: ")
    assert any(e.message == "unknown key" for e in loaded.errors)


def test_yaml_syntax_error_and_non_mapping() -> None:
    broken = load_text("agent:\n  min_permission: [write\n")
    assert broken.config is None and broken.errors[0].line is not None
    assert "invalid YAML" in broken.errors[0].message
    assert load_text("- a\n- b\n").errors[0].message == "the file must be a mapping of keys"
    assert load_text("").config == RepoConfig()


def test_image_and_dockerfile_exclude_each_other() -> None:
    loaded = load_text("snapshot:\n  image: x\n  dockerfile: Dockerfile\n")
    assert [e.path for e in loaded.errors] == ["snapshot"]


def test_extends_forms() -> None:
    assert parse_extends(".github", "octo") == ("octo", ".github", ".github/codegen.yml")
    assert parse_extends("other/base", "octo") == ("other", "base", ".github/codegen.yml")
    assert parse_extends("base:conf/bot.yml", "octo") == ("octo", "base", "conf/bot.yml")
    assert parse_extends("not valid at all", "octo") is None


def test_deep_merge_merges_mappings_and_replaces_lists() -> None:
    base = {"snapshot": {"test": ["a", "b"], "port": 1, "env": {"A": "1"}}, "merge": {"auto_merge": True}}
    child = {"snapshot": {"test": ["c"], "env": {"B": "2"}}}
    assert deep_merge(base, child) == {
        "snapshot": {"test": ["c"], "port": 1, "env": {"A": "1", "B": "2"}}, "merge": {"auto_merge": True}}


class Files:
    """An in-memory contents API: (owner/repo, path, ref) → text; ref None is the default branch."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str | None], str] = {}
        self.fetches = 0

    def put(self, repo: str, text: str, path: str = ".github/codegen.yml", ref: str | None = None) -> None:
        self.files[(repo, path, ref)] = textwrap.dedent(text)

    async def fetch(self, installation_id: int, owner: str, repo: str, path: str, ref: str | None
                    ) -> FetchedFile | None:
        self.fetches += 1
        text = self.files.get((f"{owner}/{repo}", path, ref))
        if text is None:
            text = self.files.get((f"{owner}/{repo}", path, None))
        return None if text is None else FetchedFile(text, f"sha-{hash(text)}")


async def test_missing_file_is_defaults() -> None:
    loaded = await RepoConfigLoader(Files().fetch).load("octo", "app", "main", installation_id=1)
    assert loaded.ok and loaded.config == RepoConfig() and loaded.sources == []


async def test_extends_chain_merges_and_reports_its_sources() -> None:
    files = Files()
    files.put("octo/.github", """\
        _extends: shared/policies:bots/codegen.yml
        snapshot: {test: [make test], port: 9000}
        """)
    files.put("shared/policies", """\
        agent: {min_permission: maintain}
        merge: {auto_merge: true, required_checks: [codegen/test]}
        """, path="bots/codegen.yml")
    files.put("octo/app", """\
        _extends: .github
        snapshot: {test: [pytest]}
        merge: {method: rebase}
        """, ref="main")
    loaded = await RepoConfigLoader(files.fetch).load("octo", "app", "main", installation_id=1)
    assert loaded.ok, loaded.errors
    c = loaded.config
    assert c is not None
    assert c.snapshot.test == ["pytest"] and c.snapshot.port == 9000
    assert c.agent.min_permission == "maintain"
    assert c.merge.auto_merge and c.merge.method == "rebase" and c.merge.required_checks == ["codegen/test"]
    assert loaded.sources == [
        "octo/app:.github/codegen.yml", "octo/.github:.github/codegen.yml",
        "shared/policies:bots/codegen.yml"]


async def test_extends_errors_name_the_inherited_file() -> None:
    files = Files()
    files.put("octo/.github", "snapshot:\n  port: nope\n")
    files.put("octo/app", "_extends: .github\n")
    loaded = await RepoConfigLoader(files.fetch).load("octo", "app", "main", installation_id=1)
    assert [(e.file, e.path, e.line) for e in loaded.errors] == [
        ("octo/.github:.github/codegen.yml", "snapshot.port", 2)]


@pytest.mark.parametrize("setup, message", [
    ({"octo/app": "_extends: a\n", "octo/a": "_extends: app\n"}, "cycle"),
    ({"octo/app": "_extends: missing\n"}, "was not found"),
    ({"octo/app": "_extends: a\n", "octo/a": "_extends: b\n", "octo/b": "_extends: c\n",
      "octo/c": "_extends: d\n", "octo/d": "{}\n"}, "more than 3 levels"),
])
async def test_extends_failures(setup: dict[str, str], message: str) -> None:
    files = Files()
    for repo, text in setup.items():
        files.put(repo, text)
    loaded = await RepoConfigLoader(files.fetch).load("octo", "app", "main", installation_id=1)
    assert loaded.config is None
    assert any(message in e.message and e.path == "_extends" for e in loaded.errors), loaded.errors


async def test_parsed_once_per_blob_sha() -> None:
    files = Files()
    files.put("octo/app", "snapshot: {port: 1234}\n")
    loader = RepoConfigLoader(files.fetch)
    for _ in range(3):
        assert (await loader.load("octo", "app", "main", installation_id=1)).config.snapshot.port == 1234  # type: ignore[union-attr]
    assert files.fetches == 3 and loader.parse_count == 1
    files.put("octo/app", "snapshot: {port: 4321}\n")
    assert (await loader.load("octo", "app", "main", installation_id=1)).config.snapshot.port == 4321  # type: ignore[union-attr]
    assert loader.parse_count == 2


def test_check_config_command(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text("_extends: .github\nsnapshot: {test: [pytest]}\n")
    bad.write_text("snapshot:\n  test: pytest\n  port: x\n")
    out = io.StringIO()
    assert check_config_command(good, out) == 0
    assert out.getvalue().splitlines()[-1] == "ok" and "_extends" in out.getvalue()
    out = io.StringIO()
    assert check_config_command(bad, out) == 1
    assert out.getvalue().splitlines() == [
        f"{bad}:2: snapshot.test: Input should be a valid list",
        f"{bad}:3: snapshot.port: Input should be a valid integer, unable to parse string as an integer",
    ]
    assert check_config_command(tmp_path / "missing.yml", io.StringIO()) == 2


def test_example_app_config_is_valid() -> None:
    out = io.StringIO()
    example = Path(__file__).resolve().parents[3] / "examples/hello-app/.github/codegen.yml"
    assert check_config_command(example, out) == 0
