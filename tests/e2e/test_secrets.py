"""Secrets for builds and tests (issue 17), end to end: the real bot, a real git repository, a real Docker engine,
the fake GitHub (contract-checked), and the operator's secrets file (SECRETS_PATH).

- a trusted run gives the secret to `build`, `test` and the deployed app, never to `setup` nor to the
  container's own environment (where `docker commit` would keep it);
- a step that prints it (plain, base64, URL-encoded) shows `***`, and GitHub never receives it;
- a fork's code runs without it (a writer's fork, so it runs unapproved), unless SECRETS_FOR_FORKS;
- a secret the operator does not provide fails the validation saying which and where it is set;
- the `snapshot.cache_setup` image holds none; a merge-queue commit is trusted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, quote_plus

import docker
import pytest
import yaml

from bot.store.validations import ValidationRecord
from config.secrets import OperatorSecrets
from handlers.validation.runner import MissingSecrets, SecretsPlan, plan_secrets
from handlers.validation.service import ValidationService
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import merge_group_event
from tests.support.validation_scenario import REPO, Project, Scenario
from validators.setup_cache import setup_images

StartBot = Callable[..., Awaitable[RunningBot]]
NAME = "DEPLOY_TOKEN"
SECRET = 'e2e-S3cret/Value+with spaces&"é~!'
HASH = hashlib.sha256(SECRET.encode()).hexdigest()
#: how a step prints the secret in the masking test, and what each line must show instead
LEAK = textwrap.dedent(f"""\
    import base64, os, urllib.parse
    t = os.environ["{NAME}"]
    raw = t.encode()
    print("plain", t)
    print("base64", base64.b64encode(raw).decode())
    print("base64-unpadded", base64.b64encode(raw).decode().rstrip("="))
    print("urlsafe", base64.urlsafe_b64encode(raw).decode())
    print("urlsafe-unpadded", base64.urlsafe_b64encode(raw).decode().rstrip("="))
    print("quote", urllib.parse.quote(t))
    print("quote_plus", urllib.parse.quote_plus(t))
    print("basic-auth", base64.b64encode(b"user:" + raw).decode())
    """)
FORMS = [SECRET, base64.b64encode(SECRET.encode()).decode(), base64.urlsafe_b64encode(SECRET.encode()).decode(),
         base64.b64encode(SECRET.encode()).decode().rstrip("="), quote(SECRET), quote_plus(SECRET),
         quote(SECRET, safe=""), base64.b64encode(b"user:" + SECRET.encode()).decode()]
#: the app answers 200 only when its environment holds the secret
APP = textwrap.dedent(f"""\
    import hashlib, http.server, os

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen = hashlib.sha256(os.environ.get("{NAME}", "").encode()).hexdigest()
            self.send_response(200 if seen == "{HASH}" else 503)
            self.end_headers()
            self.wfile.write(b"ok")

    http.server.HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
    """)
SEEN = f'printf %s "${{{NAME}:-}}" | sha256sum | cut -d" " -f1'
#: one command that passes only when it sees the secret, saying what it saw (`unset` when nothing)
SEES_IT = f'echo "seen=${{{NAME}:-unset}}"; test "$({SEEN})" = {HASH}'


def config(*, test: list[str], setup: str = f'test -z "${{{NAME}:-}}"', cache: bool = False,
           deploy: bool = True, names: str = NAME) -> str:
    lines = {
        "snapshot": {
            "image": "codegen-bot-base:bookworm", "secrets": [names], "cache_setup": cache, "setup": [setup],
            # build passes either way and leaves what it saw for `test` to check
            "build": [f"{SEEN} > /tmp/build-saw"], "test": test,
            **({"deploy": "python3 app.py", "port": 8000} if deploy else {}),
            "step_timeout_minutes": 1, "timeout_minutes": 5, "resources": {"cpus": 1, "memory": "256m", "pids": 128},
        },
        "health_check": {"path": "/", "timeout_seconds": 20},
    }
    return yaml.safe_dump(lines, sort_keys=False)


TRUSTED_TESTS = [
    SEES_IT,
    f"test $(cat /tmp/build-saw) = {HASH}",  # `build` had it
    # not in the container's own environment (PID 1's): a `docker commit` would keep that
    rf'tr "\0" "\n" < /proc/1/environ > /tmp/pid1 && grep -q ^PATH= /tmp/pid1 && ! grep -q {NAME} /tmp/pid1',
]


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.yml"
    path.write_text(yaml.safe_dump({REPO: {NAME: SECRET}, "octo-org": {"OTHER_TOKEN": "not-this-repos-1"}}))
    return path


async def scenario_with(fake: FakeGitHub, start_bot: StartBot, tmp_path: Path, secrets_file: Path,
                        **settings: Any) -> Scenario:
    inst = fake.add_installation("octo-org", [REPO])
    fake.set_permission(REPO, "dev", "write")
    bot = await start_bot(validation_concurrency=2, secrets_path=secrets_file, **settings)
    return Scenario(fake, bot, Project.of(tmp_path), inst.id)


@pytest.fixture
async def scenario(fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient,
                   tmp_path: Path, secrets_file: Path) -> Scenario:
    return await scenario_with(fake_github, start_bot, tmp_path, secrets_file)


async def validate_pull(scenario: Scenario, text: str, files: dict[str, str], **pull: Any) -> dict[str, Any]:
    scenario.fake.set_file(REPO, ".github/codegen.yml", text)
    sha = scenario.project.commit({"app.py": APP, **files})
    number = scenario.open_pull(sha, ["app.py"], **pull)
    await scenario.deliver_pull(number, sender=pull.get("user", "dev"))
    return await scenario.wait_done(sha)


def conclusions(runs: dict[str, Any]) -> dict[str, str]:
    return {name: run.conclusion for name, run in runs.items()}


async def test_a_trusted_run_gives_the_secret_to_build_test_and_the_app_never_to_setup(scenario: Scenario) -> None:
    runs = await validate_pull(scenario, config(test=TRUSTED_TESTS), {})
    assert conclusions(runs) == {  # setup checked it had nothing; build, test and the app's health had it
        "codegen/build": "success", "codegen/test": "success", "codegen/deploy": "success",
        "codegen/analysis": "success", "codegen/web-eval": "skipped"}
    assert "were not given" not in runs["codegen/build"].output["summary"]


async def test_a_step_printing_the_secret_shows_stars_and_github_never_receives_it(scenario: Scenario) -> None:
    runs = await validate_pull(scenario, config(test=["python3 leak.py; exit 1"], deploy=False), {"leak.py": LEAK})
    test = runs["codegen/test"]
    assert test.conclusion == "failure"
    printed = dict(line.split(" ", 1) for line in test.output["text"].strip().splitlines())
    assert set(printed) == {"plain", "base64", "base64-unpadded", "urlsafe", "urlsafe-unpadded", "quote",
                            "quote_plus", "basic-auth"}  # every line was printed, and each one is masked
    assert [kind for kind, shown in printed.items() if shown != "***" and kind != "basic-auth"] == []
    assert "***" in printed["basic-auth"]  # the part of `user:<secret>` that encodes the secret alone
    sent = list(everything_sent(scenario.fake))
    assert any("plain ***" in text for text in sent)  # the check run's text was among them
    leaked = [form for form in FORMS for text in sent if form in text]
    assert leaked == []
    record = await scenario.bot.server.services.validation.store.latest_for_sha(REPO, test.head_sha)
    assert record is not None and not any(form in json.dumps(record.report, ensure_ascii=False) for form in FORMS)


def everything_sent(fake: FakeGitHub) -> Iterator[str]:
    """Every request the fake received: its path, query and body, and a JSON body's strings decoded."""
    for request in fake.requests:
        yield request.path
        yield json.dumps(request.query, ensure_ascii=False)
        yield request.body.decode("utf-8", errors="replace")
        try:
            yield json.dumps(json.loads(request.body), ensure_ascii=False)
        except ValueError:
            pass


async def test_a_writers_fork_runs_without_the_secret(scenario: Scenario) -> None:
    runs = await validate_pull(scenario, config(test=[SEES_IT]), {}, head_repo="dev/shop", user="dev")
    assert runs["codegen/build"].conclusion == "success"  # it ran (a writer's fork needs no approval)...
    assert "were not given to this run: its code comes from a fork" in runs["codegen/build"].output["summary"]
    test = runs["codegen/test"]
    assert test.conclusion == "failure" and "seen=unset" in test.output["text"]  # ...without the secret


async def test_secrets_for_forks_gives_the_secret_to_a_fork(
    fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient, tmp_path: Path,
    secrets_file: Path,
) -> None:
    scenario = await scenario_with(fake_github, start_bot, tmp_path, secrets_file, secrets_for_forks=True)
    runs = await validate_pull(scenario, config(test=TRUSTED_TESTS), {}, head_repo="dev/shop", user="dev")
    assert runs["codegen/test"].conclusion == "success" and runs["codegen/deploy"].conclusion == "success"


async def test_a_secret_the_operator_does_not_provide_fails_the_build_saying_where(scenario: Scenario) -> None:
    runs = await validate_pull(scenario, config(test=["true"], names="MISSING_TOKEN"), {})
    build = runs["codegen/build"]
    assert build.conclusion == "failure" and build.output["title"] == "Secret MISSING_TOKEN not provided"
    summary = build.output["summary"]
    for where in ("`SECRETS_PATH`", f"`{REPO}:`", "`octo-org:`", "`CODEGEN_SECRET_MISSING_TOKEN`", "restart"):
        assert where in summary
    assert str(scenario.bot.settings.secrets_path) not in summary  # no path of the bot's host
    assert {run.conclusion for run in runs.values()} <= {"failure", "skipped"}


@pytest.fixture
def setup_images_removed(docker_client: docker.DockerClient, scenario: Scenario) -> Iterator[int]:
    """The repository's setup images are removed before and after (a warm cache would skip `setup`)."""
    repo_id = scenario.fake.repo(REPO).id

    def remove() -> None:
        for tag, _created in setup_images(docker_client, REPO, repo_id):
            docker_client.images.remove(tag, force=True)

    remove()
    yield repo_id
    remove()


async def test_the_setup_cache_image_holds_no_secret(
    scenario: Scenario, docker_client: docker.DockerClient, setup_images_removed: int
) -> None:
    setup = f'test -z "${{{NAME}:-}}" && mkdir -p /opt/deps && env > /opt/deps/setup-env'
    text = config(test=[*TRUSTED_TESTS, "test -f /opt/deps/setup-env"], setup=setup, cache=True, deploy=False)
    runs = await validate_pull(scenario, text, {"requirements.txt": "flask\n"})
    assert runs["codegen/test"].conclusion == "success"
    assert "reused" not in runs["codegen/build"].output["summary"]  # cold: `setup` ran, then was kept
    images = setup_images(docker_client, REPO, setup_images_removed)
    assert len(images) == 1, images
    image = docker_client.images.get(images[0][0])
    env = image.attrs["Config"]["Env"] or []
    assert any(v.startswith("PATH=") for v in env) and not any(v.startswith(f"{NAME}=") for v in env)
    assert SECRET not in json.dumps(image.attrs, ensure_ascii=False) and HASH not in json.dumps(image.attrs)
    out = docker_client.containers.run(image.id, ["sh", "-c", f"cat /opt/deps/setup-env; env | grep {NAME}; true"],
                                       remove=True, network_disabled=True)
    assert b"PATH=" in out and NAME.encode() not in out


async def test_a_merge_queue_commit_is_trusted(scenario: Scenario) -> None:
    scenario.fake.set_file(REPO, ".github/codegen.yml", config(test=TRUSTED_TESTS), ref="main")
    project = scenario.project
    base = project.commit({"app.py": APP})
    branch = f"gh-readonly-queue/main/pr-7-{base}"
    project.git("checkout", "-q", "-b", branch)
    head = project.commit({"feature.py": "VALUE = 1\n"})
    project.git("checkout", "-q", "main")
    scenario.fake.repo(REPO).clone_url = project.url
    event = merge_group_event(REPO, scenario.installation_id, head_sha=head, base_sha=base, pr_number=7)
    event["repository"]["clone_url"] = project.url
    assert (await scenario.bot.deliver("merge_group", event))[0] == 202
    runs = await scenario.wait_done(head)
    assert runs["codegen/test"].conclusion == "success" and runs["codegen/deploy"].conclusion == "success"


# --- who is trusted, without Docker (handlers/validation/runner.py `plan_secrets`) --------------------------

@dataclass
class PullsOnly:
    """A GitHub client that knows one answer: the pull request's head repository."""

    head_repo: dict[str, Any] | None
    asked: int = 0

    async def getitem(self, url: str, url_vars: dict[str, Any]) -> dict[str, Any]:
        assert url == "/repos/{owner}/{repo}/pulls/{pull_number}" and url_vars["pull_number"] == 3
        self.asked += 1
        return {"number": 3, "head": {"repo": self.head_repo}}


def record(pr_number: int | None = 3, head_ref: str = "feature") -> ValidationRecord:
    return ValidationRecord("v", REPO, pr_number, "a" * 40, head_ref, f"https://github.example/{REPO}.git", 1,
                            "running", "test", {}, None, None, 0.0, 0.0, None, None)


@dataclass
class SecretsOnly:
    """The parts of the validation service that `plan_secrets` reads."""

    secrets: OperatorSecrets
    secrets_for_forks: bool


async def plan(gh: PullsOnly, rec: ValidationRecord, *, forks: bool = False) -> SecretsPlan | MissingSecrets:
    svc = SecretsOnly(OperatorSecrets({REPO.lower(): {NAME: SECRET}}), forks)
    return await plan_secrets(cast(ValidationService, svc), cast(Any, gh), rec, [NAME])


async def test_a_deleted_fork_is_a_fork_though_its_record_names_the_base_repository() -> None:
    gh = PullsOnly(head_repo=None)  # GitHub's answer for a PR whose fork was deleted
    planned = await plan(gh, record())
    assert planned == SecretsPlan({}, planned.note) and planned.note and gh.asked == 1
    assert (await plan(PullsOnly(head_repo={"full_name": "Octo-Org/Shop"}), record())) == SecretsPlan({NAME: SECRET})
    assert (await plan(PullsOnly(head_repo={"full_name": "x/shop"}), record())).given == {}
    assert (await plan(PullsOnly(head_repo=None), record(), forks=True)).given == {NAME: SECRET}


async def test_a_queue_commit_is_trusted_without_asking_and_a_commit_without_pull_request_is_not() -> None:
    gh = PullsOnly(head_repo=None)
    queued = await plan(gh, record(None, "gh-readonly-queue/main/pr-3-" + "b" * 40))
    assert queued == SecretsPlan({NAME: SECRET}) and gh.asked == 0
    assert (await plan(gh, record(None, "feature"))).given == {}
