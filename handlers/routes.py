"""Every handler module's router, merged in one place.

Each module in this package owns one `gidgethub.routing.Router` for one family of GitHub events. The
worker (`bot/worker.py`) fetches the callbacks for an event from `ROUTER` and runs each on its own, so one
handler's failure never stops another's.
"""

from gidgethub import routing

from handlers import comments, config_check, installation, merge_triggers, validation_triggers

ROUTER = routing.Router(
    installation.router,
    config_check.router,
    comments.router,
    validation_triggers.router,
    merge_triggers.router,
)
