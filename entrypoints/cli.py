"""`codegen-bot` command line.

    codegen-bot serve                       run the App (webhooks, setup page, worker)
    codegen-bot validate PATH [--base REF] [--json]
                                            run the validation on a local checkout (exit 0 passed, 1 failed,
                                            2 misconfigured)
    codegen-bot check-config PATH           validate a .github/codegen.yml: prints errors (exit 1) or "ok" (0)
    codegen-bot replay DELIVERY_ID          queue a failed delivery again

Exit codes: 0 success; 1 the checked thing failed; 2 bad usage, bad settings, a missing file, or (serve) a
HOST:PORT that cannot be listened on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from config.settings import SettingsError, load_settings


def _serve(_args: argparse.Namespace) -> int:
    from bot.runtime.logs import configure_logging
    from entrypoints.serve import ListenError, serve

    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(serve(settings))
    except ListenError as exc:
        print(f"codegen-bot: {exc}", file=sys.stderr)
        return 2
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from config.check import check_config_command

    return check_config_command(Path(args.path), sys.stdout)


def _replay(args: argparse.Namespace) -> int:
    from bot.store.db import open_database
    from bot.store.deliveries import DeliveryStore
    from bot.store.migrations import MIGRATIONS

    settings = load_settings()

    async def run() -> bool:
        db = await open_database(settings.database_url, MIGRATIONS)
        try:
            return await DeliveryStore(db).replay(args.delivery_id)
        finally:
            await db.close()

    if asyncio.run(run()):
        print(f"delivery {args.delivery_id} queued again; a running bot handles it within seconds")
        return 0
    print(f"no failed delivery with id {args.delivery_id}", file=sys.stderr)
    return 1


def _validate(args: argparse.Namespace) -> int:
    from validators.cli_validate import run_validate

    return asyncio.run(run_validate(Path(args.path), args.base, args.json, sys.stdout))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codegen-bot", description="The codegen-bot GitHub App")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the App").set_defaults(func=_serve)
    check = sub.add_parser("check-config", help="validate a .github/codegen.yml file")
    check.add_argument("path")
    check.set_defaults(func=_check_config)
    check_run = sub.add_parser("validate", help="validate a local git checkout in a Docker snapshot")
    check_run.add_argument("path")
    check_run.add_argument("--base", help="analyse only the files changed since this ref")
    check_run.add_argument("--json", action="store_true", help="print the report as JSON")
    check_run.set_defaults(func=_validate)
    replay = sub.add_parser("replay", help="queue a failed webhook delivery again")
    replay.add_argument("delivery_id")
    replay.set_defaults(func=_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
