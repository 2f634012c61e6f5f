"""The retention rules, as pure functions: what is past its retention, given the time and the rows."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store.retention import EndedRow, LiveWork, expired_deliveries, expired_jobs, expired_validations
from validators.retention import DAY, Usage, cutoff, docker_time, expired, image_last_used

NOW = 1_800_000_000.0
BEFORE = cutoff(NOW, 30)
OLD, NEW = NOW - 31 * DAY, NOW - 29 * DAY


def test_the_cutoff_is_the_retention_back_from_now() -> None:
    assert cutoff(NOW, 30) == NOW - 30 * 86400
    assert cutoff(NOW, 0.5) == NOW - 43200


def test_a_delivery_goes_once_it_ended_before_the_cutoff_and_no_live_job_names_it() -> None:
    rows = [EndedRow("old-handled", "handled", OLD), EndedRow("old-failed", "failed", OLD),
            EndedRow("new-handled", "handled", NEW), EndedRow("old-pending", "pending", OLD),
            EndedRow("old-named", "handled", OLD), EndedRow("at-cutoff", "handled", BEFORE)]
    live = LiveWork(delivery_ids=frozenset({"old-named"}))
    assert expired_deliveries(rows, BEFORE, live) == ["old-handled", "old-failed"]


def test_a_job_goes_once_it_ended_and_never_while_queued_or_running() -> None:
    rows = [EndedRow(1, "done", OLD), EndedRow(2, "failed", OLD), EndedRow(3, "cancelled", OLD),
            EndedRow(4, "queued", OLD), EndedRow(5, "running", OLD), EndedRow(6, "done", NEW)]
    assert expired_jobs(rows, BEFORE) == [1, 2, 3]


def test_a_validation_stays_while_live_work_names_it_or_its_pull_request() -> None:
    rows = [EndedRow("done", "done", OLD, ("o/r", 1)), EndedRow("cancelled", "cancelled", OLD, ("o/r", 2)),
            EndedRow("new", "done", NEW, ("o/r", 3)), EndedRow("held", "held", OLD, ("o/r", 4)),
            EndedRow("queued", "queued", OLD, ("o/r", 5)), EndedRow("running", "running", OLD, ("o/r", 6)),
            EndedRow("named", "done", OLD, ("o/r", 7)), EndedRow("thread", "done", OLD, ("o/r", 8)),
            EndedRow("queue-commit", "done", OLD, None)]
    live = LiveWork(validation_ids=frozenset({"named"}), threads=frozenset({("o/r", 8)}))
    assert expired_validations(rows, BEFORE, live) == ["done", "cancelled", "queue-commit"]
    assert expired_validations(rows, BEFORE, LiveWork()) == ["done", "cancelled", "named", "thread", "queue-commit"]


def test_disk_and_images_go_when_last_used_before_the_cutoff_unless_kept() -> None:
    items = [Usage("old", OLD), Usage("new", NEW), Usage("in-use", OLD), Usage("b-old", OLD - 1)]
    assert expired(items, BEFORE) == ["b-old", "in-use", "old"]
    assert expired(items, BEFORE, keep={"in-use"}) == ["b-old", "old"]
    assert expired([], BEFORE) == []


def test_docker_times_with_nanoseconds_and_the_zero_time() -> None:
    assert docker_time("2026-12-06T17:54:47.739154971Z") == datetime(2026, 12, 6, 17, 54, 47, 739154,
                                                                     tzinfo=UTC).timestamp()
    assert docker_time("2026-12-06T17:54:47Z") == datetime(2026, 12, 6, 17, 54, 47, tzinfo=UTC).timestamp()
    assert docker_time("2026-12-06T18:54:47.5+01:00") == datetime(2026, 12, 6, 17, 54, 47, 500000,
                                                                  tzinfo=UTC).timestamp()
    assert docker_time("0001-01-01T00:00:00Z") == 0.0
    assert docker_time(None) == docker_time("") == docker_time("yesterday") == 0.0
    assert docker_time(1_800_000_000) == 1_800_000_000.0  # a summary's epoch seconds


def test_an_image_was_last_used_when_it_was_created_or_last_tagged_whichever_is_later() -> None:
    created, tagged, never = "2026-01-01T00:00:00Z", "2026-03-01T00:00:00.123456789Z", "0001-01-01T00:00:00Z"
    assert image_last_used({"Created": created, "Metadata": {"LastTagTime": tagged}}) == docker_time(tagged)
    assert image_last_used({"Created": tagged, "Metadata": {"LastTagTime": never}}) == docker_time(tagged)
    assert image_last_used({"Created": created}) == docker_time(created)
