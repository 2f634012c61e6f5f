"""The fake GitHub authenticates and authorizes like GitHub: App JWTs, installation tokens, permissions,
manifest conversions."""

from __future__ import annotations

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github import FakeGitHub
from tests.fakes.github_state import new_rsa_key
from tests.unit.fakes.support import REPO


async def test_app_endpoints_need_a_valid_app_jwt(fake_github: FakeGitHub) -> None:
    fake = fake_github
    inst = fake.add_installation("octo-org", [REPO])
    now = fake.clock()
    other_key, _ = new_rsa_key()
    bad_jwts = {
        "expired": fake.app_jwt(iat=now - 700, exp=now - 10),
        "too long": fake.app_jwt(iat=now, exp=now + 900),
        "wrong issuer": fake.app_jwt(iss="999"),
        "wrong key": fake.app_jwt(private_key_pem=other_key),
        "HS256": jwt.encode(
            {"iat": int(now), "exp": int(now) + 60, "iss": str(fake.app_id)}, "s" * 32, "HS256"
        ),
    }
    async with httpx.AsyncClient(base_url=fake.url) as client:
        assert (await client.get("/app")).status_code == 401
        for name, token in bad_jwts.items():
            response = await client.get("/app", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, name
        installation_token = fake.issue_token(inst.id)
        as_installation = await client.get("/app", headers={"Authorization": f"token {installation_token}"})
        assert as_installation.status_code == 401
        good = {"Authorization": f"Bearer {fake.app_jwt()}"}
        app = await client.get("/app", headers=good)
        assert app.status_code == 200
        assert app.json()["id"] == fake.app_id
        found = await client.get(f"/repos/{REPO}/installation", headers=good)
        assert found.json()["id"] == inst.id
        assert (await client.get("/repos/octo-org/unknown/installation", headers=good)).status_code == 404
        fake.token_ttl = 600
        frozen = 1_900_000_000.0
        fake.clock = lambda: frozen
        good = {"Authorization": f"Bearer {fake.app_jwt()}"}
        minted = await client.post(f"/app/installations/{inst.id}/access_tokens", headers=good)
        assert minted.status_code == 201
        token = minted.json()["token"]
        assert fake.world.tokens[token].expires_at == frozen + 600
        assert minted.json()["expires_at"] == "2030-03-17T17:56:40Z"  # frozen + 600 s, GitHub's format
        missing = await client.post("/app/installations/123456789/access_tokens", headers=good)
        assert missing.status_code == 404


async def test_repo_endpoints_need_an_unexpired_token_for_that_repo(fake_github: FakeGitHub) -> None:
    fake = fake_github
    inst = fake.add_installation("octo-org", [REPO, "octo-org/other"])
    elsewhere = fake.add_installation("someone", ["someone/thing"])
    token = fake.issue_token(inst.id)
    narrow = fake.issue_token(inst.id, repos=["octo-org/other"])
    async with httpx.AsyncClient(base_url=fake.url) as client:

        async def status(auth: str | None, repo: str = REPO) -> int:
            headers = {"Authorization": auth} if auth else {}
            return (await client.get(f"/repos/{repo}", headers=headers)).status_code

        assert await status(None) == 401
        assert await status("token ghs_notissuedbythisfake000000000000000") == 401
        assert await status(f"Bearer {fake.app_jwt()}") == 401
        assert await status(f"token {token}") == 200
        assert await status(f"Bearer {token}") == 200
        assert await status(f"token {token}", "someone/thing") == 404
        assert await status(f"token {fake.issue_token(elsewhere.id)}") == 404
        assert await status(f"token {narrow}") == 404
        assert await status(f"token {narrow}", "octo-org/other") == 200
        current = fake.clock()
        fake.clock = lambda: current + fake.token_ttl + 1
        assert await status(f"token {token}") == 401
        fake.clock = lambda: current
        fake.expire_tokens()
        assert await status(f"token {token}") == 401


async def test_installation_permissions_are_enforced(fake_github: FakeGitHub) -> None:
    inst = fake_github.add_installation(
        "octo-org", [REPO], permissions={"metadata": "read", "checks": "read"}
    )
    token = fake_github.issue_token(inst.id)
    async with httpx.AsyncClient(
        base_url=fake_github.url, headers={"Authorization": f"token {token}"}
    ) as client:
        denied = await client.post(f"/repos/{REPO}/check-runs", json={"name": "x", "head_sha": "a" * 40})
        assert denied.status_code == 403
        assert denied.json()["message"] == "Resource not accessible by integration"
        assert (await client.get(f"/repos/{REPO}/commits/main/check-runs")).status_code == 200


async def test_manifest_conversion_returns_a_usable_app(fake_github: FakeGitHub) -> None:
    registered = fake_github.register_manifest_code("code-123", slug="my-codegen")
    async with httpx.AsyncClient(base_url=fake_github.url) as client:
        assert (await client.post("/app-manifests/unknown/conversions")).status_code == 404
        response = await client.post("/app-manifests/code-123/conversions")
        assert response.status_code == 201
        body = response.json()
        assert {"id", "slug", "pem", "webhook_secret", "client_id", "client_secret"} <= set(body)
        assert (body["id"], body["slug"]) == (registered.id, "my-codegen")
        key = serialization.load_pem_private_key(body["pem"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        now = int(fake_github.clock())
        app_jwt = jwt.encode(
            {"iat": now - 30, "exp": now + 500, "iss": str(body["id"])}, body["pem"], "RS256"
        )
        me = await client.get("/app", headers={"Authorization": f"Bearer {app_jwt}"})
        assert me.json()["slug"] == "my-codegen"
        assert (await client.post("/app-manifests/code-123/conversions")).status_code == 404  # single use
