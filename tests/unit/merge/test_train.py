"""The merge train's decision (pure): only the front merges, and only when its head contains the base."""

from __future__ import annotations

from handlers.merge.train import InLine, MergeNow, UpdateFirst, in_line_notice, ordinal, train_step


def test_only_the_front_moves_and_the_others_know_who_is_ahead() -> None:
    line = [12, 15, 9]
    assert train_step(line, 15, None) == InLine(2, 12)
    assert train_step(line, 9, None) == InLine(3, 15)
    assert train_step(line, 12, 0) == MergeNow()
    assert train_step(line, 12, 3) == UpdateFirst()  # behind its base: updated and validated again first


def test_the_notice_says_the_place_in_line() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
    assert "2nd in line in the merge train, after #12" in in_line_notice(InLine(2, 12), "a" * 40)
