"""The read-only status page (`/status`): validations, agent runs, merges and held fork PRs of the repositories a
signed-in GitHub user can read, and, for operators, deliveries, failed jobs and reconciler repairs.

routes.py (the pages: aiohttp handlers, declared in `ROUTES`), access.py (what the user's token may read, who
is an operator: effects, cached per session), gather.py (reads the store), visibility.py and views.py (pure:
who sees what, what a row shows), texts.py + templates/ (Jinja2). docs/status-page.md tells the whole story.
"""
