"""How the fake GitHub authenticates callers: App JWTs and installation tokens.

Decisions (GitHub's documented rules, made checkable):
- An App JWT is RS256, signed with the app's private key; `iss` is the app id (int or string) or its client
  id; `iat` may be up to 60 s in the future (clock drift); `exp` must be after now and `exp - iat` at most
  600 s plus 60 s of skew (clients commonly back-date `iat` by 60 s); `exp` at most 10 min (+ 60 s) ahead.
  Time comes from the fake's clock, not pyjwt's, so tests can move time.
- Installation tokens are opaque `ghs_` strings the fake issued (`mint_token`); they expire after the
  fake's TTL.
- "Bearer" and "token" schemes are both accepted for installation tokens (GitHub accepts both); only
  "Bearer" for JWTs.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jwt

from tests.fakes.github_state import App, Installation, Token, World

MAX_JWT_LIFETIME = 600
SKEW = 60


class AuthError(Exception):
    """Authentication failed; `message` is what GitHub says in the 401 body."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Credentials:
    """Who is calling: kind is "none", "jwt" or "token"."""

    kind: str
    app: App | None = None
    token: Token | None = None


def bearer(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(scheme lowercased, credential) from the Authorization header, or None."""
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, credential = value.strip().partition(" ")
            return scheme.lower(), credential.strip()
    return None


def verify_jwt(encoded: str, apps: Mapping[int, App], now: float) -> App:
    """The app the JWT proves to be; AuthError otherwise."""
    try:
        header = jwt.get_unverified_header(encoded)
        claims = jwt.decode(encoded, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AuthError("A JSON web token could not be decoded") from exc
    if header.get("alg") != "RS256":
        raise AuthError("A JSON web token could not be decoded")
    iss = claims.get("iss")
    app = next((a for a in apps.values() if str(iss) in (str(a.id), a.client_id)), None)
    if app is None:
        raise AuthError("'Issuer' claim ('iss') must be an Integer")
    try:
        jwt.decode(
            encoded,
            app.public_key_pem,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise AuthError("A JSON web token could not be decoded") from exc
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise AuthError("Missing 'issued at' or 'expiration time' claim ('iat'/'exp')")
    if iat > now + SKEW:
        raise AuthError("'Issued at' claim ('iat') must be an Integer representing a time in the past")
    if exp <= now:
        raise AuthError(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time"
        )
    if exp - iat > MAX_JWT_LIFETIME + SKEW or exp > now + MAX_JWT_LIFETIME + SKEW:
        raise AuthError("'Expiration time' claim ('exp') is too far in the future")
    return app


def new_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))


def mint_token(
    world: World, inst: Installation, repos: list[str] | None, permissions: dict[str, str]
) -> Token:
    """A new installation token, valid for the world's TTL from now (repos None: all the installation's)."""
    token = Token(new_token(), inst.id, world.clock() + world.token_ttl, repos, permissions)
    world.tokens[token.token] = token
    return token


def authenticate(
    headers: Mapping[str, str],
    apps: Mapping[int, App],
    tokens: Mapping[str, Token],
    clock: Callable[[], float],
) -> Credentials:
    """Identify the caller; AuthError for a credential that is present but bad."""
    found = bearer(headers)
    if found is None:
        return Credentials("none")
    scheme, credential = found
    if scheme not in ("bearer", "token") or not credential:
        raise AuthError("Bad credentials")
    if credential.count(".") == 2 and not credential.startswith("ghs_"):
        if scheme != "bearer":
            raise AuthError("Bad credentials")
        return Credentials("jwt", app=verify_jwt(credential, apps, clock()))
    token = tokens.get(credential)
    if token is None or token.expires_at <= clock():
        raise AuthError("Bad credentials")
    return Credentials("token", token=token)
