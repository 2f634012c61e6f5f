"""The Docker labels on everything a validation creates (containers, networks, built images).

`cleanup_leftovers` (validators/snapshot.py) finds what a crash left behind by them: `LABEL` marks every
snapshot object, `INSTANCE_LABEL` the bot that made it (two bots may share one Docker engine).
"""

from __future__ import annotations

LABEL = "codegen-bot.snapshot"
INSTANCE_LABEL = "codegen-bot.instance"
#: images built from a repository's `snapshot.dockerfile`
BUILD_LABEL = "codegen-bot.image"
