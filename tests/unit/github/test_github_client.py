"""The App's GitHub client against the fake GitHub: token cache, retries, rate limits, 401 recovery."""

from __future__ import annotations

import aiohttp
import pytest
from gidgethub import BadRequest, GitHubBroken

from bot.github.auth import AppJWT, make_app_jwt
from bot.github.client import RateLimited, convert_manifest, rate_limit_wait
from tests.fakes.github import FakeGitHub
from tests.unit.github.support import GET_REPO, REPO, TOKEN_OP, Clock, Setup, get_repo


async def test_one_token_request_per_installation_while_valid(setup: Setup) -> None:
    for _ in range(5):
        repo = await get_repo(setup)
        assert repo["full_name"] == REPO
    assert len(setup.fake.calls(TOKEN_OP)) == 1
    assert len(setup.fake.calls(GET_REPO)) == 5


async def test_concurrent_first_requests_share_one_token_request(setup: Setup) -> None:
    import asyncio

    await asyncio.gather(*(get_repo(setup) for _ in range(10)))
    assert len(setup.fake.calls(TOKEN_OP)) == 1


async def test_token_is_refreshed_shortly_before_expiry(setup: Setup) -> None:
    await get_repo(setup)
    setup.clock.now += 3600 - 6 * 60  # six minutes left: still used
    await get_repo(setup)
    assert len(setup.fake.calls(TOKEN_OP)) == 1
    setup.clock.now += 2 * 60  # four minutes left: replaced before it can lapse mid-job
    await get_repo(setup)
    assert len(setup.fake.calls(TOKEN_OP)) == 2


async def test_token_for_returns_the_cached_installation_token(setup: Setup) -> None:
    first = await setup.clients.token_for(setup.installation_id)
    assert first.startswith("ghs_")
    assert await setup.clients.token_for(setup.installation_id) == first
    assert first not in repr(setup.clients.tokens._cache)  # reprs never show the credential


async def test_a_revoked_token_is_replaced_once(setup: Setup) -> None:
    await get_repo(setup)
    setup.fake.expire_tokens()
    repo = await get_repo(setup)
    assert repo["full_name"] == REPO
    assert len(setup.fake.calls(TOKEN_OP)) == 2


async def test_server_errors_are_retried_with_backoff(setup: Setup) -> None:
    setup.fake.fail_next("GET", GET_REPO, 502, times=2)
    repo = await get_repo(setup)
    assert repo["full_name"] == REPO
    assert setup.slept == [0.5, 1.0]


async def test_server_errors_give_up_after_the_retries(setup: Setup) -> None:
    setup.fake.fail_next("GET", GET_REPO, 503, times=10)
    with pytest.raises(GitHubBroken):
        await get_repo(setup)
    assert len(setup.fake.calls(GET_REPO)) == 4  # first try + 3 retries


async def test_secondary_rate_limit_waits_retry_after(setup: Setup) -> None:
    setup.fake.fail_secondary_rate_limit("GET", GET_REPO, retry_after=42)
    repo = await get_repo(setup)
    assert repo["full_name"] == REPO
    assert setup.slept == [42.0]


async def test_primary_rate_limit_waits_until_reset(setup: Setup) -> None:
    setup.fake.fail_primary_rate_limit("GET", GET_REPO, reset_in=30)
    await get_repo(setup)
    assert len(setup.slept) == 1 and 30 <= setup.slept[0] <= 32


async def test_rate_limit_longer_than_the_cap_goes_to_the_caller(setup: Setup) -> None:
    setup.fake.fail_primary_rate_limit("GET", GET_REPO, reset_in=3600)
    with pytest.raises(RateLimited) as caught:
        await get_repo(setup)
    assert caught.value.status_code == 403 and not isinstance(caught.value, BadRequest)
    assert 3600 <= caught.value.wait <= 3602
    assert setup.slept == []


async def test_the_app_client_authenticates_with_a_jwt(setup: Setup) -> None:
    data = await setup.clients.app().getitem(
        "/repos/{owner}/{repo}/installation", {"owner": "octo-org", "repo": "widgets"}
    )
    assert data["id"] == setup.installation_id
    call = setup.fake.calls("apps/get-repo-installation")[-1]
    assert call.headers["authorization"].startswith("bearer ")


async def test_convert_manifest(fake_github: FakeGitHub) -> None:
    fake_github.register_manifest_code("abc123", slug="my-codegen-bot")
    async with aiohttp.ClientSession() as session:
        data = await convert_manifest(session, fake_github.url, "abc123")
    assert data["slug"] == "my-codegen-bot"
    assert "BEGIN" in str(data["pem"]) and data["webhook_secret"]


def test_jwt_claims_are_ten_minutes_and_backdated() -> None:
    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    token = make_app_jwt(123, pem, now=1_000_000)
    claims = pyjwt.decode(token, key.public_key(), algorithms=["RS256"], options={"verify_exp": False})
    assert claims == {"iat": 1_000_000 - 60, "exp": 1_000_000 - 60 + 600, "iss": "123"}
    clock = Clock(1_000_000)
    signer = AppJWT(123, pem, clock=clock)
    first = signer.get()
    clock.now += 300
    assert signer.get() == first
    clock.now += 200
    assert signer.get() != first


def test_rate_limit_wait_rules() -> None:
    assert rate_limit_wait(403, {"Retry-After": "7"}, 0) == 7
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "100"}, 40) == 61
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "12"}, 0) is None  # a permission error
    assert rate_limit_wait(403, {}, 0, "Resource not accessible by integration") is None
    assert rate_limit_wait(404, {"Retry-After": "7"}, 0) is None
    secondary = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "4000"}, 0, secondary) == 60
    assert rate_limit_wait(403, {}, 0, secondary, attempt=3) == 240  # keeps failing: exponentially longer
    assert rate_limit_wait(429, {}, 0) == 60
