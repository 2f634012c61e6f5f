"""The stages of a validation, one module each, in the order `validators.pipeline.validate` runs them:

    analysis.py      `analysis`  tree-sitter over the changed files (no container)
    container.py     the throw-away container for the next three: image (checked against the operator's
                     allow-list) or Dockerfile (built with the snapshot's limits and network), dependency
                     cache volumes keyed by the repository's id, the commit's tree (started as part of
                     `build`, on the validation's networks: validators/sandbox_network.py)
    build.py         `build`     `snapshot.setup`, the way out cut (`snapshot.network: setup-only`), then
                                 `snapshot.build`; with `snapshot.cache_setup`
                     through cached_build.py (setup reused from, or kept as, a setup image)
    test.py          `test`      `snapshot.test`
    deploy.py        `deploy`    `snapshot.deploy` in the background, then the health check
    web_eval.py      `web-eval`  browser checks against the deployed app (when configured)

Shared by them: commands.py (running a stage's commands, and the outcome they make) and skips.py (why a
stage did not run).
"""
