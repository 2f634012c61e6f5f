"""Shared pytest configuration: each fixture module is registered here as a plugin."""

pytest_plugins = [
    "tests.fakes.github_fixtures",
    "tests.fakes.codegen_fixtures",
    "tests.support.docker_fixtures",
    "tests.support.second_docker_fixtures",
    "tests.support.browser_fixtures",
    "tests.support.bot_fixtures",
    "tests.support.postgres_fixtures",
]
