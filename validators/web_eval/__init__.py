"""Web evaluation: the deployed app's pages and flows checked in a real browser (Playwright + Chromium).

    runner.py     the pages and flows, and `evaluate(...)`, the entry point
    container.py  the browser container next to the app (firewall, sandbox, limits, labels)
    relay.py      the bot's DevTools connection into that container (`docker exec`; no port is exposed)
    origin.py     only the app's origin: every other request refused and recorded
    seccomp.py    the container's seccomp profile (Chromium's own sandbox stays on)
    results.py    what each page or flow found, and the `codegen/web-eval` check run
    artifacts.py  screenshots and traces, and their signed URLs
"""
