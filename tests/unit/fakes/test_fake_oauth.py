"""The fake GitHub's sign-in and user access tokens behave like GitHub's (tests/fakes/github_oauth.py): the
authorize redirect, the code exchange and its errors (status 200 with `error`), and what a user token lists."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fakes.github import FakeGitHub

CALLBACK = "http://127.0.0.1:9/status/callback"


def world(fake: FakeGitHub) -> int:
    inst = fake.add_installation("octo-org", ["octo-org/shop", "octo-org/vault"])
    fake.add_repo("octo-org/vault", private=True)
    fake.set_permission("octo-org/shop", "alice", "triage")
    fake.set_permission("octo-org/vault", "alice", "none")
    fake.add_callback_url(CALLBACK)
    return inst.id


async def test_authorize_sends_the_signed_in_browser_back_with_a_code_that_works_once(fake_github: FakeGitHub) -> None:
    world(fake_github)
    app = fake_github.app
    async with httpx.AsyncClient(base_url=fake_github.url) as http:
        query = {"client_id": app.client_id, "redirect_uri": CALLBACK, "state": "s1"}
        assert (await http.get("/login/oauth/authorize", params=query)).status_code == 200  # GitHub's login page
        fake_github.sign_in_browser("alice")
        wrong = await http.get("/login/oauth/authorize", params={**query, "redirect_uri": "http://evil.example/"})
        assert wrong.status_code == 400
        back = await http.get("/login/oauth/authorize", params=query)
        assert back.status_code == 302
        sent = parse_qs(urlsplit(back.headers["location"]).query)
        assert sent["state"] == ["s1"]
        form = {"client_id": app.client_id, "client_secret": "wrong", "code": sent["code"][0]}
        json_accept = {"Accept": "application/json"}
        refused = await http.post("/login/oauth/access_token", data=form, headers=json_accept)
        assert refused.status_code == 200 and refused.json()["error"] == "incorrect_client_credentials"
        form["client_secret"] = app.client_secret
        answer = await http.post("/login/oauth/access_token", data=form, headers=json_accept)
        body = answer.json()
        assert body["access_token"].startswith("ghu_") and body["expires_in"] == 28800
        assert body["token_type"] == "bearer"
        again = await http.post("/login/oauth/access_token", data=form)
        assert parse_qs(again.text)["error"] == ["bad_verification_code"]  # form-encoded without Accept: json


async def test_a_user_token_lists_only_what_its_user_can_access(fake_github: FakeGitHub) -> None:
    inst = world(fake_github)
    token = fake_github.user_token("alice")
    async with httpx.AsyncClient(base_url=fake_github.url, headers={"Authorization": f"token {token}"}) as http:
        assert (await http.get("/user")).json()["login"] == "alice"
        installations = (await http.get("/user/installations")).json()
        assert [i["id"] for i in installations["installations"]] == [inst]
        repos = (await http.get(f"/user/installations/{inst}/repositories")).json()["repositories"]
        assert [(r["full_name"], r["permissions"]["pull"], r["permissions"]["push"]) for r in repos] == [
            ("octo-org/shop", True, False)]
    carol = fake_github.user_token("carol")
    async with httpx.AsyncClient(base_url=fake_github.url, headers={"Authorization": f"token {carol}"}) as http:
        assert (await http.get("/user/installations")).json() == {"total_count": 0, "installations": []}
        assert (await http.get(f"/user/installations/{inst}/repositories")).status_code == 404
    installation = fake_github.issue_token(inst)
    async with httpx.AsyncClient(base_url=fake_github.url, headers={"Authorization": f"token {installation}"}) as http:
        assert (await http.get("/user")).status_code == 403
    fake_github.expire_user_tokens()
    async with httpx.AsyncClient(base_url=fake_github.url, headers={"Authorization": f"token {token}"}) as http:
        assert (await http.get("/user")).status_code == 401
