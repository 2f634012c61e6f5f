"""Snapshots on the real Docker engine with the locally built base image."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest
import pytest_asyncio

from tests.support.tar import tar_of
from validators.health import wait_healthy
from validators.snapshot import INSTANCE_LABEL, LABEL, MAX_OUTPUT_BYTES, Resources, Snapshot, cleanup_leftovers
from validators.steps import Stage, run_stages


@pytest_asyncio.fixture
async def snapshot(docker_client: docker.DockerClient, base_image: str) -> AsyncIterator[Snapshot]:
    snap = await Snapshot.create(
        docker_client, image=base_image, env={"GREETING": "hello"},
        resources=Resources(cpus=1, memory_bytes=256 * 1024**2, pids=128), labels={"codegen-bot.test": "1"},
        port=8000,
    )
    yield snap
    await snap.remove()


async def test_runs_commands_in_the_source_tree(snapshot: Snapshot) -> None:
    await snapshot.put_tree(tar_of({"app/main.py": "print('from the tree')\n"}))
    ok = await snapshot.run("python3 app/main.py && echo $GREETING", timeout=60)
    assert ok.ok and ok.exit_code == 0 and ok.output.split() == ["from", "the", "tree", "hello"]
    bad = await snapshot.run("echo failing >&2; exit 3", timeout=60)
    assert not bad.ok and bad.exit_code == 3 and "failing" in bad.output and not bad.timed_out


async def test_a_step_over_its_limit_is_killed_with_its_children(snapshot: Snapshot) -> None:
    started = time.monotonic()
    step = await snapshot.run("sh -c 'sleep 300' & sleep 300", timeout=2)
    assert step.timed_out and not step.ok and time.monotonic() - started < 20
    left = await snapshot.run("cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^sleep' || true", timeout=30)
    # only the container's own keep-alive (`sleep infinity`, PID 1's child) is left: no step process survived
    assert left.output.strip() == "1", left.output


async def test_out_of_memory_is_recognised(snapshot: Snapshot) -> None:
    step = await snapshot.run("python3 -c 'x = bytearray(1024 * 1024 * 1024)'", timeout=60)
    assert not step.ok and step.oom_killed and "out of memory" in step.output


async def test_long_output_keeps_its_tail(snapshot: Snapshot) -> None:
    step = await snapshot.run("python3 -c \"print('x' * 2_000_000); print('THE END')\"", timeout=60)
    assert step.ok and len(step.output.encode()) <= MAX_OUTPUT_BYTES and step.output.rstrip().endswith("THE END")


async def test_no_secret_of_the_bot_reaches_the_container(
    docker_client: docker.DockerClient, base_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY----- hostsecret")
    monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-hostsecret")
    snap = await Snapshot.create(docker_client, image=base_image, env={"PLAIN": "1"})
    try:
        env = (await snap.run("env", timeout=30)).output
        assert "hostsecret" not in env and "PLAIN=1" in env
        mounts = docker_client.api.inspect_container(snap.container.id)["Mounts"]
        assert mounts == []
        caps = docker_client.api.inspect_container(snap.container.id)["HostConfig"]["CapDrop"]
        assert caps == ["ALL"]
    finally:
        await snap.remove()


async def test_ca_bundle_is_mounted_read_only(
    docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    snap = await Snapshot.create(docker_client, image=base_image, ca_bundle=bundle)
    try:
        step = await snap.run('cat "$PIP_CERT" && echo x >> "$SSL_CERT_FILE"', timeout=30)
        assert "BEGIN CERTIFICATE" in step.output and step.exit_code != 0  # readable, not writable
    finally:
        await snap.remove()


async def test_deploy_is_reached_at_its_app_address_and_nothing_is_published(
    snapshot: Snapshot, docker_client: docker.DockerClient
) -> None:
    await snapshot.put_tree(tar_of({"index.html": "<h1>hi</h1>"}))
    attrs = docker_client.api.inspect_container(snapshot.container.id)
    assert not attrs["HostConfig"]["PortBindings"] and not attrs["NetworkSettings"]["Ports"]
    assert list(attrs["NetworkSettings"]["Networks"]) == [snapshot.app_network]  # its own network, not Docker's
    assert snapshot.app_url == f"http://{snapshot.app_ip}:8000" and snapshot.app_address == "app"
    await snapshot.start_background("python3 -m http.server 8000")
    health = await wait_healthy(f"{snapshot.app_url}/", timeout=30)
    assert health.ok and health.status == 200
    logs = await snapshot.background_logs()
    assert "GET / HTTP" in logs


async def test_health_check_reports_a_dead_app(snapshot: Snapshot) -> None:
    await snapshot.start_background("echo crashing; exit 1")
    health = await wait_healthy(f"{snapshot.app_url}/", timeout=2)
    assert not health.ok and health.attempts >= 2 and health.error
    assert "crashing" in await snapshot.background_logs()


async def test_stages_stop_at_the_first_failure_and_respect_the_deadline(snapshot: Snapshot) -> None:
    results = await run_stages(
        snapshot, [Stage("build", ["true", "exit 4", "echo never"]), Stage("test", ["echo never"])],
        step_timeout=30, total_deadline=time.monotonic() + 120,
    )
    assert [r.status for r in results] == ["failure", "skipped"]
    assert [s.exit_code for s in results[0].steps] == [0, 4]
    late = await run_stages(snapshot, [Stage("test", ["sleep 30"])], step_timeout=60,
                            total_deadline=time.monotonic() + 3)
    assert late[0].status == "failure" and late[0].steps[0].timed_out


async def test_leftovers_are_removed(docker_client: docker.DockerClient, base_image: str) -> None:
    instance = f"leftover-test-{time.monotonic_ns()}"  # (only this test's: other sessions may share the engine)
    snap = await Snapshot.create(docker_client, image=base_image, labels={INSTANCE_LABEL: instance})
    assert docker_client.containers.list(filters={"label": f"{LABEL}=1", "id": snap.container.id})
    assert cleanup_leftovers(docker_client, instance) == 2  # the container and its network
    assert not docker_client.containers.list(all=True, filters={"id": snap.container.id})
    assert not docker_client.networks.list(names=[snap.network.app])


async def test_a_fork_bomb_is_contained_by_the_pids_limit(snapshot: Snapshot) -> None:
    bomb = await snapshot.run("bomb() { bomb | bomb & }; bomb", timeout=5)
    assert "Cannot fork" in bomb.output  # it hit the limit instead of taking the machine down
    left = await snapshot.run("ls -d /proc/[0-9]* | wc -l", timeout=30)
    assert int(left.output.strip()) < 10, left.output  # and what it left running was killed with its step
    after = await snapshot.run("cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max",
                               timeout=30)
    assert after.ok and after.output.strip() == "128"
    alive = await snapshot.run("echo alive", timeout=30)
    assert alive.ok and alive.output.strip() == "alive"  # the group was killed: the snapshot is usable again
