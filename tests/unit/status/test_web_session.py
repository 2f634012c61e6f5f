"""Signed cookies, sessions and the sign-in's own checks (bot/runtime/web_session.py, web_signin.py): pure."""

from __future__ import annotations

from bot.runtime.web_session import Sessions, Signer, signing_key
from bot.runtime.web_signin import safe_next


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_signed_value_comes_back_only_unchanged_unexpired_and_for_its_purpose() -> None:
    clock = Clock()
    signer = Signer(signing_key("webhook-secret", None), clock)
    signed = signer.sign("session", "abc.def", 60)
    assert signer.verify("session", signed) == "abc.def"
    assert signer.verify("state", signed) is None
    value, expires, mac = signed.rsplit(".", 2)
    assert signer.verify("session", f"abd.def.{expires}.{mac}") is None
    assert signer.verify("session", f"{value}.{int(expires) + 999}.{mac}") is None
    assert signer.verify("session", None) is None and signer.verify("session", "garbage") is None
    clock.now += 61
    assert signer.verify("session", signed) is None
    other = Signer(signing_key("another-secret", None), clock)
    assert other.verify("session", other.sign("session", "x", 60)) == "x"
    assert signer.verify("session", other.sign("session", "x", 60)) is None


def test_the_key_is_never_the_webhook_secret_and_an_explicit_one_wins() -> None:
    assert signing_key("webhook-secret", None) != b"webhook-secret"
    assert signing_key("webhook-secret", "explicit") == signing_key("other", "explicit")
    assert signing_key(None, None) != signing_key(None, None)  # unconfigured: a key of this process only


def test_sessions_expire_and_the_oldest_go_first() -> None:
    clock = Clock()
    sessions = Sessions(max_sessions=2, clock=clock)
    first = sessions.create("alice", "ghu_a", clock.now + 10)
    second = sessions.create("bob", "ghu_b", clock.now + 100)
    assert sessions.get(first.id) is first and "ghu_a" not in repr(first)
    clock.now += 11
    assert sessions.get(first.id) is None and sessions.get(second.id) is second
    sessions.create("carol", "ghu_c", clock.now + 100)
    sessions.create("dave", "ghu_d", clock.now + 100)
    assert sessions.get(second.id) is None and len(sessions) == 2


def test_sign_in_comes_back_only_to_a_page_of_its_own() -> None:
    assert safe_next("/status/repos/o/r?x=1", "/status") == "/status/repos/o/r?x=1"
    for bad in ("https://evil.example/status", "//evil.example/status", "/setup/callback", "", None, "/status\\x"):
        assert safe_next(bad, "/status") == "/status"
