"""Secrets masked as `***` in what leaves a validation (validators/masking.py), in each encoded form."""

from __future__ import annotations

import base64
import json
import uuid
from typing import cast
from urllib.parse import quote, quote_plus

import docker
import pytest

from config.loader import load_text
from config.schema import RepoConfig
from tests.support.tar import tar_of
from validators.annotations import Annotation
from validators.masking import MASK, SecretMask, secret_forms
from validators.outcome import StageOutcome, StepRecord
from validators.pipeline import ValidationRequest, validate

#: '/', '+', ' ', '&', '"' and a non-ASCII letter, 31 bytes: every encoding below differs from the value and
#: the others (base64 with `+` and `==`, URL-safe with `-`)
SECRET = 's3cr3t/Va+lue with spaces&"é~!'
RAW = SECRET.encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


FORMS = {
    "plain": SECRET,
    "base64": b64(RAW),
    "base64 unpadded": b64(RAW).rstrip("="),
    "base64 url-safe": b64url(RAW),
    "base64 url-safe unpadded": b64url(RAW).rstrip("="),
    "quote": quote(SECRET),
    "quote, no safe characters": quote(SECRET, safe=""),
    "quote_plus": quote_plus(SECRET),
    "quote, lower-case hex": quote(SECRET).replace("%2B", "%2b").replace("%C3%A9", "%c3%a9"),
    "JSON string": json.dumps(SECRET)[1:-1],
}


def test_the_forms_under_test_differ_from_each_other() -> None:
    assert len(set(FORMS.values())) == len(FORMS)
    assert FORMS["base64"].endswith("==") and "+" in FORMS["base64"] and "-" in FORMS["base64 url-safe"]


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_each_encoded_form_is_masked_and_the_text_around_it_kept(form: str) -> None:
    mask = SecretMask.of([SECRET])
    assert mask.text(f"before {form} after\n") == f"before {MASK} after\n"


@pytest.mark.parametrize("prefix", [b"user:", b"me:", b"x:"], ids=["aligned", "shift 1", "shift 2"])
def test_the_secret_inside_a_longer_base64_text_is_masked(prefix: bytes) -> None:
    header = "Authorization: Basic " + b64(prefix + RAW + b"\n")
    masked = SecretMask.of([SECRET]).text(header)
    assert MASK in masked
    # at most the characters that also encode the prefix's or the trailer's bits are left on either side
    left, right = masked.removeprefix("Authorization: Basic ").split(MASK)
    assert len(left) <= len(b64(prefix)) and len(right) <= 8


def test_each_line_of_a_multi_line_secret_is_masked() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n-----END KEY-----"
    assert SecretMask.of([key]).text("got MIIEvQIBADANBgkqhkiG9w0BAQEF here") == f"got {MASK} here"


def test_a_log_cut_in_the_middle_of_a_secret_masks_its_end() -> None:
    mask = SecretMask.of([SECRET])
    assert mask.text(SECRET[-6:] + " then the log") == f"{MASK} then the log"
    assert mask.text(FORMS["base64"][-5:] + "\nrest") == f"{MASK}\nrest"


def test_short_pieces_and_other_text_are_left_alone() -> None:
    mask = SecretMask.of([SECRET])
    text = f"s3c and {SECRET[:5]} and Va+lue and spaces and ordinary output"
    assert mask.text(text) == text
    assert SecretMask.of([]).text(SECRET) == SECRET


def test_every_form_is_at_least_eight_characters_and_longest_first() -> None:
    forms = secret_forms(SECRET)
    assert all(len(f) >= 8 for f in forms)
    assert [len(f) for f in forms] == sorted((len(f) for f in forms), reverse=True)
    assert set(FORMS.values()) <= set(forms)


def test_an_outcome_is_masked_in_every_text_it_carries() -> None:
    leaked = f"token {SECRET} / {FORMS['base64']}"
    outcome = StageOutcome(
        "test", "failure", f"test: `echo {SECRET}` exit 1", f"| `echo {SECRET}` |", text=leaked,
        annotations=[Annotation(f"{SECRET}.py", 1, 1, "failure", f"t {SECRET}", leaked)],
        steps=[StepRecord(f"echo {FORMS['quote']}", 1, 0.1, False, leaked)],
        details={"items": [{"reason": leaked, "n": 1}], SECRET: (leaked,)},
    )
    masked = SecretMask.of([SECRET]).outcome(outcome)
    dumped = json.dumps(
        [masked.title, masked.summary, masked.text, [a.to_github() for a in masked.annotations],
         [vars(s) for s in masked.steps], masked.details], ensure_ascii=False)
    assert not any(form in dumped for form in FORMS.values())
    assert dumped.count(MASK) == 16
    assert masked.details["items"][0]["n"] == 1 and masked.conclusion == "failure"
    assert outcome.text == leaked  # the original is not changed


def config_of(text: str) -> RepoConfig:
    loaded = load_text(text)
    assert loaded.config is not None, loaded.errors
    return loaded.config


def test_no_secret_is_shown_by_a_repr() -> None:
    assert SECRET not in repr(SecretMask.of([SECRET]))
    request = ValidationRequest("v", "o/r", "0" * 40, config_of(""), b"", {}, cast(docker.DockerClient, None),
                                secrets={"TOKEN": SECRET})
    assert SECRET not in repr(request)


async def test_the_pipeline_masks_what_it_reports_and_notes_withheld_secrets() -> None:
    """No container is needed (no commands): the analysis stage names a changed file with a syntax error, and
    that file's name holds the secret."""
    secret, name = "tok3n-Value-99", "src/tok3n-Value-99.py"
    request = ValidationRequest(
        validation_id=uuid.uuid4().hex, repo="o/r", sha="0" * 40, config=config_of(""),
        source_tar=tar_of({name: "def f(:\n"}), changed_files={name: b"def f(:\n"},
        docker=cast(docker.DockerClient, None), secrets={"TOKEN": secret}, secrets_note="not given: a fork",
    )
    report = await validate(request)
    analysis = report.outcomes["analysis"]
    assert analysis.conclusion == "failure" and analysis.annotations[0].path == f"src/{MASK}.py"
    assert f"`src/{MASK}.py`" in analysis.summary
    assert secret not in json.dumps(report.to_json())
    assert report.outcomes["build"].summary.startswith("not given: a fork\n\nNothing to run")
    assert "not given" not in report.outcomes["test"].summary
