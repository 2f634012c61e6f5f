"""The reply to `/codegen help` (and the tail of every command error). docs/commands.md says the same."""

HELP_TEXT = """\
**codegen-bot commands** (one per line of a comment; quoted lines and code blocks are ignored)

| command | where | what it does |
|---|---|---|
| `/codegen <request>` | issue or PR | start an agent run on Codegen with this request and the thread as context |
| `/codegen continue <text>` | thread with a finished run | resume the latest run with more context |
| `/codegen confirm` (or `proceed`) | thread whose run proposed a plan | tell the agent to go ahead with its plan |
| `/codegen modify <text>` | thread whose run proposed a plan | ask the agent to change its plan |
| `/codegen cancel` | thread with an active run | stop following the run |
| `/codegen status` | anywhere | report this thread's agent runs |
| `/codegen validate` (or `/retest`) | PR | validate the PR's head commit again |
| `/codegen ok-to-test` | PR from a fork | allow the validation of this fork's current head commit |
| `/codegen fix [text]` | PR with a failed validation | send the failure to the agent to fix |
| `/codegen merge` | PR | merge once every required check has passed on the validated commit |
| `/codegen help` | anywhere | this table |

Who may use them: users with at least `agent.min_permission` (default `write`) on the repository.
"""
