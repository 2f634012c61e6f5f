"""The store of web-evaluation artifacts (screenshots, traces) as the settings configure it."""

from __future__ import annotations

from config.settings import Settings
from validators.web_eval.artifacts import ArtifactStore, derive_key


def artifact_store(settings: Settings) -> ArtifactStore:
    """Signed, expiring links: keyed by ARTIFACT_SIGNING_KEY, else derived from the webhook secret."""
    secret = settings.github_webhook_secret.get_secret_value() if settings.github_webhook_secret else None
    explicit = settings.artifact_signing_key.get_secret_value() if settings.artifact_signing_key else None
    return ArtifactStore(settings.artifacts_dir, derive_key(secret, explicit), settings.public_url,
                         ttl_seconds=settings.artifact_url_ttl_hours * 3600)
