"""The operator's secrets (config/secrets.py, SECRETS_PATH, CODEGEN_SECRET_*) and `snapshot.secrets`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from config.loader import load_text
from config.secrets import OperatorSecrets, SecretsError, load_operator_secrets
from config.settings import SettingsError, load_settings

VALUE = "file-value-0123456789"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_repository_beats_its_owner_which_beats_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        octo-org/shop:
          TOKEN: "repo-token-value"
        Octo-Org:
          TOKEN: "owner-token-value"
          DSN: "owner-dsn-value"
        other-org:
          ONLY_OTHER: "other-org-value"
        """)
    environ = {"CODEGEN_SECRET_TOKEN": "env-token-value", "CODEGEN_SECRET_DSN": "env-dsn-value",
               "CODEGEN_SECRET_NPM": "env-npm-value", "UNRELATED": "x"}
    secrets = load_operator_secrets(path, environ)
    shop = secrets.resolve("octo-org/Shop", ["TOKEN", "DSN", "NPM", "ONLY_OTHER"])
    assert shop.values == {"TOKEN": "repo-token-value", "DSN": "owner-dsn-value", "NPM": "env-npm-value"}
    assert shop.missing == ("ONLY_OTHER",)
    other = secrets.resolve("octo-org/web", ["TOKEN", "DSN"])
    assert other.values == {"TOKEN": "owner-token-value", "DSN": "owner-dsn-value"}
    elsewhere = secrets.resolve("someone/else", ["TOKEN"])
    assert elsewhere.values == {"TOKEN": "env-token-value"} and elsewhere.missing == ()


def test_names_are_case_sensitive_and_only_the_named_ones_are_given(tmp_path: Path) -> None:
    secrets = load_operator_secrets(write(tmp_path, f"octo-org:\n  TOKEN: {VALUE}\n  OTHER: {VALUE}\n"), {})
    resolved = secrets.resolve("octo-org/shop", ["TOKEN"])
    assert resolved.values == {"TOKEN": VALUE}
    assert secrets.resolve("octo-org/shop", ["Token"]).missing == ("Token",)


def test_no_file_and_no_variable_means_no_secrets() -> None:
    secrets = load_operator_secrets(None, {"PATH": "/bin"})
    assert secrets == OperatorSecrets(path=None)
    assert secrets.resolve("a/b", ["X"]).missing == ("X",) and secrets.all_values() == []


def test_all_values_lists_file_and_environment_values(tmp_path: Path) -> None:
    secrets = load_operator_secrets(write(tmp_path, f"a/b:\n  X: {VALUE}\n"), {"CODEGEN_SECRET_Y": "env-value-123"})
    assert sorted(secrets.all_values()) == sorted([VALUE, "env-value-123"])


@pytest.mark.parametrize(("text", "problem"), [
    ("- a\n- b\n", "must map `owner/repo` or `owner`"),
    ("octo-org: [TOKEN]\n", "`octo-org`: must map secret names to values"),
    ("octo org/x:\n  TOKEN: abcdefghij\n", "`octo org/x`: a key must be `owner/repo` or `owner`"),
    ("a/b/c:\n  TOKEN: abcdefghij\n", "`a/b/c`: a key must be"),
    ("octo-org:\n  token: abcdefghij\n", "`octo-org`: `token`: a secret's name must match [A-Z_][A-Z0-9_]*"),
    ("octo-org:\n  1TOKEN: abcdefghij\n", "`1TOKEN`: a secret's name must match"),
    ("octo-org:\n  TOKEN: 123456789\n", "`TOKEN`: the value must be a string (quote it in YAML)"),
    ("octo-org:\n  TOKEN: yes\n", "`TOKEN`: the value must be a string"),
    ("octo-org:\n  TOKEN: {a: b}\n", "`TOKEN`: the value must be a string"),
    ("octo-org:\n  TOKEN: short\n", "`TOKEN`: the value is shorter than 8 characters"),
    ("octo-org:\n  TOKEN: abcdefghij\nOcto-Org:\n  X: abcdefghij\n", "`Octo-Org`: given twice (keys ignore case)"),
    ("octo-org:\n  TOKEN: abcdefghij\n  TOKEN: klmnopqrst\n", "line 3: `TOKEN` is given twice"),
    ("octo-org:\n  TOKEN: \"abcdefghij\n", "not valid YAML (line 3, column 1: found unexpected end of stream)"),
])
def test_a_malformed_file_names_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(SecretsError) as caught:
        load_operator_secrets(write(tmp_path, text), {})
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"SECRETS_PATH: {tmp_path / 'secrets.yml'}: ")
    assert "abcdefghij" not in str(caught.value) and "klmnopqrst" not in str(caught.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = "a:\n  bad: abcdefghij\nb:\n  GOOD: short\n"
    with pytest.raises(SecretsError) as caught:
        load_operator_secrets(write(tmp_path, text), {"CODEGEN_SECRET_lower": "abcdefghij"})
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert "`bad`" in lines[0] and "`GOOD`" in lines[1] and lines[2].startswith("CODEGEN_SECRET_lower: ")


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match=r"SECRETS_PATH: .*nope\.yml: cannot be read \(FileNotFoundError"):
        load_operator_secrets(tmp_path / "nope.yml", {})


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("CODEGEN_SECRET_", "abcdefghij", "a secret's name must match"),
    ("CODEGEN_SECRET_npm", "abcdefghij", "a secret's name must match"),
    ("CODEGEN_SECRET_NPM", "short", "shorter than 8 characters"),
])
def test_a_malformed_variable_names_itself(variable: str, value: str, problem: str) -> None:
    with pytest.raises(SecretsError) as caught:
        load_operator_secrets(None, {variable: value})
    assert str(caught.value).startswith(f"{variable}: ") and problem in str(caught.value)


def test_settings_validation_stops_start_up_naming_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "octo-org:\n  TOKEN: 42424242\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, secrets_path=path)
    message = str(caught.value)
    assert message.startswith("invalid settings:\n  SECRETS_PATH: ")
    assert "`TOKEN`: the value must be a string" in message
    assert "42424242" not in message


def test_settings_read_the_file_and_the_environment_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, f"octo-org:\n  TOKEN: {VALUE}\n")
    env_file = tmp_path / ".env"
    env_file.write_text("CODEGEN_SECRET_FROM_DOTENV=dotenv-value-1\nCODEGEN_SECRET_BOTH=dotenv-loses\n")
    monkeypatch.setenv("CODEGEN_SECRET_BOTH", "process-env-wins")
    settings = load_settings(_env_file=str(env_file), secrets_path=path, secrets_for_forks="true")
    assert settings.secrets_for_forks is True
    path.write_text("not: [read, again]\n")  # read at start-up only: a change needs a restart
    resolved = settings.operator_secrets().resolve("octo-org/shop", ["TOKEN", "FROM_DOTENV", "BOTH"])
    assert resolved.values == {"TOKEN": VALUE, "FROM_DOTENV": "dotenv-value-1", "BOTH": "process-env-wins"}
    assert VALUE not in repr(settings) and VALUE not in repr(settings.operator_secrets())
    assert VALUE not in repr(resolved)


def test_the_defaults_give_no_secrets_and_none_to_forks() -> None:
    settings = load_settings(_env_file=None)
    assert settings.secrets_path is None and settings.secrets_for_forks is False


# --- `snapshot.secrets` in .github/codegen.yml -----------------------------------------------------------

def test_the_config_names_secrets() -> None:
    loaded = load_text("snapshot: {secrets: [NPM_TOKEN, _X1]}")
    assert loaded.config is not None and loaded.config.snapshot.secrets == ["NPM_TOKEN", "_X1"]
    default = load_text("")
    assert default.config is not None and default.config.snapshot.secrets == []


@pytest.mark.parametrize(("text", "error"), [
    ("snapshot: {secrets: {NPM_TOKEN: npm_abcdef0123}}", "a list of secret names"),
    ("snapshot: {secrets: [NPM_TOKEN=npm_abcdef0123]}", "entry 1 gives a value: write the name alone"),
    ("snapshot: {secrets: [OK, 'TOKEN: npm_abcdef0123']}", "entry 2 gives a value"),
    ("snapshot: {secrets: [npm_abcdef0123]}", "entry 1 is not a secret's name ([A-Z_][A-Z0-9_]*) and may be a value"),
    ("snapshot: {secrets: [AKIAABCDEFGHIJKLMNOP]}", "entry 1 is not a secret's name"),
    ("snapshot: {secrets: [12345678]}", "entry 1 is not a name"),
    ("snapshot: {secrets: [A, B, A]}", "entry 3 (A) is named twice"),
    ("snapshot: {secrets: [TOKEN], env: {TOKEN: x}}", "TOKEN: in both `env` and `secrets`"),
])
def test_a_value_looking_entry_is_a_config_error_that_never_repeats_it(text: str, error: str) -> None:
    loaded = load_text(text)
    assert loaded.config is None
    messages = [e.message for e in loaded.errors]
    assert any(error in m for m in messages), messages
    assert not any(part in m for m in messages for part in ("npm_abcdef0123", "AKIAABCDEFGHIJKLMNOP", "12345678"))
    assert "snapshot" in loaded.errors[0].path and loaded.errors[0].line == 1
