"""`snapshot.cache_setup`: a warm validation skips `setup` and still sees exactly the new commit's files."""

from __future__ import annotations

import uuid

import docker
import pytest

from config.loader import load_text
from tests.support.tar import tar_of
from validators import setup_cache
from validators.pipeline import ValidationRequest, validate
from validators.retention import image_last_used
from validators.setup_cache import cache_key, image_tag, setup_images, to_prune

CONFIG = """
snapshot:
  image: {image}
  cache_setup: true
  setup: ["mkdir -p /opt/deps && date +%s%N > /opt/deps/installed && cat requirements.txt > /opt/deps/reqs"]
  build: {build}
  test: ["{test}"]
"""
BUILD = '["test -f app.py"]'


def setup_of() -> list[str]:
    config = load_text(CONFIG.format(image="x", test="true", build=BUILD)).config
    assert config is not None
    return list(config.snapshot.setup)


async def run(client: docker.DockerClient, image: str, files: dict[str, str], test: str,
              repo: str, shared_caches: bool = True, build: str = BUILD) -> dict[str, object]:
    loaded = load_text(CONFIG.format(image=image, test=test, build=build))
    assert loaded.config is not None, loaded.errors
    report = await validate(ValidationRequest(
        validation_id=uuid.uuid4().hex, repo=repo, sha="0" * 40, config=loaded.config, source_tar=tar_of(files),
        changed_files={}, docker=client, shared_caches=shared_caches))
    return report.to_json()


async def test_warm_runs_skip_setup_and_never_see_stale_files(
    docker_client: docker.DockerClient, base_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(setup_cache, "KEEP_PER_REPO", 1)
    repo = f"cache-test/{uuid.uuid4().hex[:8]}"
    first = {"app.py": "print(1)\n", "old.py": "x = 1\n", "requirements.txt": "flask\n"}
    cold = await run(docker_client, base_image, first, "cat /opt/deps/installed", repo)
    assert cold["passed"], cold
    installed = cold["outcomes"]["test"]["steps"][0]["output_tail"]
    assert [s["command"] for s in cold["outcomes"]["build"]["steps"]][-1] == "test -f app.py"
    cached = image_tag(repo, cache_key(base_image, setup_of(), {}, "/workspace", tar_of(first)))
    made_at = image_last_used(docker_client.images.get(cached).attrs)

    second = {"app.py": "print(2)\n", "requirements.txt": "flask\n"}  # old.py deleted, deps unchanged
    warm = await run(docker_client, base_image, second,
                     "cat /opt/deps/installed && test ! -e old.py && grep -q 2 app.py", repo)
    assert warm["passed"], warm["outcomes"]["test"]
    assert warm["outcomes"]["test"]["steps"][0]["output_tail"] == installed  # setup did not run again
    assert "reused" in warm["outcomes"]["build"]["summary"]
    assert [s["command"] for s in warm["outcomes"]["build"]["steps"]] == ["test -f app.py"]
    assert image_last_used(docker_client.images.get(cached).attrs) > made_at  # a warm start is a use (retention)

    third = {"app.py": "print(3)\n", "requirements.txt": "flask\ndjango\n"}  # deps changed: set up again
    again = await run(docker_client, base_image, third, "grep -q django /opt/deps/reqs", repo)
    assert again["passed"] and "reused" not in again["outcomes"]["build"]["summary"]
    third_key = cache_key(base_image, setup_of(), {}, "/workspace", tar_of(third))
    assert cache_images(docker_client, repo) == [image_tag(repo, third_key)]  # the older image was pruned
    remove_cache_images(docker_client, repo)


def cache_images(client: docker.DockerClient, repo: str) -> list[str]:
    return [tag for tag, _created in setup_images(client, repo)]


def remove_cache_images(client: docker.DockerClient, repo: str) -> None:
    for tag in cache_images(client, repo):
        client.images.remove(tag, force=True)


async def test_approved_untrusted_code_writes_no_cache(docker_client: docker.DockerClient, base_image: str) -> None:
    repo = f"cache-test/{uuid.uuid4().hex[:8]}"
    files = {"app.py": "print(1)\n", "requirements.txt": "flask\n"}
    try:
        untrusted = await run(docker_client, base_image, files,
                              "test -f /opt/deps/installed && ! grep -q ' /root/.cache/pip ' /proc/mounts", repo,
                              shared_caches=False)
        assert untrusted["passed"], untrusted
        assert cache_images(docker_client, repo) == []  # no cache volume, and nothing it set up is kept

        trusted = await run(docker_client, base_image, files, "grep -q ' /root/.cache/pip ' /proc/mounts", repo)
        assert trusted["passed"] and len(cache_images(docker_client, repo)) == 1
        reader = await run(docker_client, base_image, {**files, "app.py": "print(2)\n"}, "true", repo,
                           shared_caches=False)
        assert reader["passed"] and "reused" in reader["outcomes"]["build"]["summary"]  # reading is safe
    finally:
        remove_cache_images(docker_client, repo)


async def test_setup_without_build_commands_is_still_run_and_kept(docker_client: docker.DockerClient,
                                                                  base_image: str) -> None:
    repo = f"cache-test/{uuid.uuid4().hex[:8]}"
    files = {"app.py": "print(1)\n", "requirements.txt": "flask\n"}
    try:
        cold = await run(docker_client, base_image, files, "test -f /opt/deps/installed", repo, build="[]")
        assert cold["passed"], cold["outcomes"]
        assert [s["command"] for s in cold["outcomes"]["build"]["steps"]] == setup_of()
        assert len(cache_images(docker_client, repo)) == 1
        warm = await run(docker_client, base_image, {**files, "app.py": "print(2)\n"}, "test -f /opt/deps/installed",
                         repo, build="[]")
        assert warm["passed"] and warm["outcomes"]["build"]["steps"] == []
        assert "reused" in warm["outcomes"]["build"]["title"]
    finally:
        remove_cache_images(docker_client, repo)


def test_the_key_follows_manifests_not_source() -> None:
    base = {"app.py": "a", "requirements.txt": "flask\n"}
    key = cache_key("img", ["pip install -r requirements.txt"], {}, "/w", tar_of(base))
    assert key == cache_key("img", ["pip install -r requirements.txt"], {}, "/w",
                            tar_of({**base, "app.py": "changed"}))
    assert key != cache_key("img", ["pip install -r requirements.txt"], {}, "/w",
                            tar_of({**base, "requirements.txt": "flask\nrequests\n"}))
    assert key != cache_key("img", ["pip install -r requirements.txt"], {"A": "1"}, "/w", tar_of(base))
    assert key != cache_key("img2", ["pip install -r requirements.txt"], {}, "/w", tar_of(base))


def test_only_the_newest_setup_images_are_kept() -> None:
    images = [("r:a", "2026-11-01T00:00:00Z"), ("r:c", "2026-11-03T00:00:00Z"), ("r:b", "2026-11-02T00:00:00Z")]
    assert to_prune(images, keep=2) == ["r:a"]
    assert to_prune(images, keep=3) == []
