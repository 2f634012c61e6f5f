# The bot's own image. Validations need a Docker engine: give it one with DOCKER_HOSTS (docker-compose.yml
# uses a separate engine over TLS), or mount the host's socket (-v /var/run/docker.sock:/var/run/docker.sock)
# with DOCKER_HOSTS=unix:///var/run/docker.sock?remote=true: inside this container 127.0.0.1 is not the
# engine's host, so health and browser checks must run on the engine (validators/engine_host.py).
# Only the bot talks to the engine, never a snapshot container.
#
# BASE: any Debian bookworm image with Python 3.11 and pip (deploy/compose.local.yml builds it on the locally
# made codegen-bot-base:bookworm, without a registry). Behind a TLS-inspecting proxy, give pip the proxy's CA
# bundle as the build secret `ca_bundle`
# (`docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt .`): a secret mount is kept in
# no layer. Needs BuildKit (Docker's default builder).
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
USER root

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates chromium \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md app.yml ./
COPY bot ./bot
COPY entrypoints ./entrypoints
COPY handlers ./handlers
COPY validators ./validators
COPY config ./config
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; pip install .

RUN useradd --create-home --uid 10001 codegen \
 && mkdir -p /data && chown codegen /data
USER codegen
WORKDIR /data
ENV DATABASE_URL=sqlite:////data/codegen-bot.db PORT=8080 APP_MANIFEST_PATH=/app/app.yml
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python3 -c "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8080\")}/healthz', timeout=4).status == 200 else 1)"
CMD ["codegen-bot", "serve"]
