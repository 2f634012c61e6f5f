"""`codegen-bot validate PATH`: the pipeline on a local checkout (real git, real Docker), exit 0/1/2."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import docker

from entrypoints.cli import main
from validators.cli_validate import run_validate

CONFIG = """\
snapshot:
  image: codegen-bot-base:bookworm
  test: ["{test}"]
analysis: {{languages: [python]}}
"""


def checkout(root: Path, test: str, extra: dict[str, str] | None = None) -> Path:
    root.mkdir()
    (root / ".github").mkdir()
    (root / ".github" / "codegen.yml").write_text(CONFIG.format(test=test))
    (root / "ok.py").write_text("print('fine')\n")
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-q", "-m", "x"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


async def test_passing_failing_and_misconfigured(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    good = checkout(tmp_path / "good", "python3 ok.py")
    out = io.StringIO()
    assert await run_validate(good, None, False, out) == 0
    assert "passed: good" in out.getvalue()

    bad = checkout(tmp_path / "bad", "python3 broken.py", {"broken.py": "def f(:\n"})
    out = io.StringIO()
    assert await run_validate(bad, None, True, out) == 1
    report = json.loads(out.getvalue())
    assert report["passed"] is False
    outcomes = report["outcomes"]
    assert outcomes["analysis"]["conclusion"] == "failure" and outcomes["test"]["conclusion"] == "failure"

    (bad / "uncommitted.txt").write_text("untracked files are not validated\n")
    (bad / "broken.py").write_text("print('fixed, not committed')\n")
    assert await run_validate(bad, None, False, io.StringIO()) == 0  # uncommitted changes are validated


def test_misconfigured_exits_2(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["validate", str(plain)]) == 2
    broken = checkout(tmp_path / "cfg", "true")
    (broken / ".github" / "codegen.yml").write_text("snapshot: {port: high}\n")
    subprocess.run(["git", "-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-qam", "y"], cwd=broken,
                   check=True)
    assert main(["validate", str(broken)]) == 2
