"""An intake process passes every route but /webhook to the core unchanged: several headers of one name too (the
status page's sign-in answers with two Set-Cookie headers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.intake.process import IntakeProcess


async def test_every_set_cookie_header_of_the_core_reaches_the_browser(tmp_path: Path) -> None:
    async def core_page(_request: web.Request) -> web.Response:
        response = web.Response(status=302, headers={"Location": "/status"})
        response.set_cookie("codegen_status", "session", httponly=True, path="/status")
        response.del_cookie("codegen_status_state", path="/status")
        return response

    core = web.Application()
    core.router.add_get("/status/callback", core_page)
    core_runner = web.AppRunner(core)
    await core_runner.setup()
    socket_path = str(tmp_path / "core.sock")
    await web.UnixSite(core_runner, socket_path).start()
    link: Any = None  # /webhook is not asked for here
    intake_runner = web.AppRunner(IntakeProcess(link, socket_path).make_app())
    await intake_runner.setup()
    site = web.TCPSite(intake_runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{intake_runner.addresses[0][1]}/status/callback"
            async with http.get(url, allow_redirects=False) as resp:
                assert resp.status == 302
                cookies = resp.headers.getall("Set-Cookie")
        assert len(cookies) == 2
        assert any(c.startswith("codegen_status=session") for c in cookies)
        assert any(c.startswith("codegen_status_state=") for c in cookies)
    finally:
        await intake_runner.cleanup()
        await core_runner.cleanup()
