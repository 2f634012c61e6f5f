"""The store's schema, as an append-only list of migrations (never edit an applied one; add another)."""

MIGRATIONS: list[str] = [
    # 1: webhook deliveries and the installations they tell us about
    """
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        event TEXT NOT NULL,
        action TEXT,
        installation_id INTEGER,
        body BLOB NOT NULL,
        received_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        done_callbacks TEXT NOT NULL DEFAULT '[]',
        handled_count INTEGER NOT NULL DEFAULT 0,
        handled_at REAL,
        error TEXT
    );
    CREATE INDEX deliveries_pending ON deliveries(received_at) WHERE state = 'pending';
    CREATE TABLE installations (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        account_type TEXT,
        suspended INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE TABLE installation_repositories (
        installation_id INTEGER NOT NULL,
        full_name TEXT NOT NULL,
        repo_id INTEGER,
        private INTEGER,
        PRIMARY KEY (installation_id, full_name)
    );
    CREATE INDEX installation_repositories_name ON installation_repositories(full_name)
    """,
    # 2: the durable job queue (validations, agent-run polls, merge checks)
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        key TEXT,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        run_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL,
        error TEXT
    );
    CREATE INDEX jobs_due ON jobs(state, kind, run_at);
    CREATE UNIQUE INDEX jobs_live_key ON jobs(key) WHERE key IS NOT NULL AND state IN ('queued', 'running')
    """,
    # 3: agent runs started from comments, and the pull requests they produced
    """
    CREATE TABLE agent_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        repo TEXT NOT NULL,
        number INTEGER NOT NULL,
        thread_kind TEXT NOT NULL,
        installation_id INTEGER NOT NULL,
        command TEXT NOT NULL,
        prompt TEXT,
        requested_by TEXT NOT NULL,
        command_comment_id INTEGER,
        status_comment_id INTEGER,
        codegen_org_id INTEGER,
        codegen_run_id INTEGER,
        status TEXT NOT NULL,
        codegen_status TEXT,
        web_url TEXT,
        answer_kind TEXT,
        result TEXT,
        linked_prs TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        fix_attempt INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        progressed_at REAL NOT NULL
    );
    CREATE INDEX agent_runs_thread ON agent_runs(repo, number, id);
    CREATE TABLE pr_agent_runs (
        repo TEXT NOT NULL,
        pr_number INTEGER NOT NULL,
        agent_run_id INTEGER NOT NULL REFERENCES agent_runs(id),
        linked_at REAL NOT NULL,
        PRIMARY KEY (repo, pr_number, agent_run_id)
    )
    """,
    # 4: validations of pull-request commits, and the head SHAs a maintainer allowed to run (ok-to-test)
    """
    CREATE TABLE validations (
        id TEXT PRIMARY KEY,
        repo TEXT NOT NULL,
        pr_number INTEGER,
        head_sha TEXT NOT NULL,
        head_ref TEXT,
        clone_url TEXT,
        installation_id INTEGER NOT NULL,
        state TEXT NOT NULL,
        trigger TEXT NOT NULL,
        check_runs TEXT NOT NULL DEFAULT '{}',
        report TEXT,
        passed INTEGER,
        created_at REAL NOT NULL,
        queued_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX validations_pr ON validations(repo, pr_number, created_at);
    CREATE INDEX validations_sha ON validations(repo, head_sha);
    CREATE TABLE approved_shas (
        repo TEXT NOT NULL,
        head_sha TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        approved_at REAL NOT NULL,
        PRIMARY KEY (repo, head_sha)
    )
    """,
    # 5: the merge and auto-fix loop: who asked for a merge, what was said, how many fixes were tried
    """
    CREATE TABLE pull_requests (
        repo TEXT NOT NULL,
        pr_number INTEGER NOT NULL,
        merge_requested_by TEXT,
        last_notice TEXT,
        fix_attempts INTEGER NOT NULL DEFAULT 0,
        needs_human INTEGER NOT NULL DEFAULT 0,
        merged_sha TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (repo, pr_number)
    )
    """,
    # 6: a body digest per delivery: a signed body replayed under a new delivery id is handled once
    """
    ALTER TABLE deliveries ADD COLUMN body_digest BLOB;
    CREATE UNIQUE INDEX deliveries_body_digest ON deliveries(body_digest) WHERE body_digest IS NOT NULL
    """,
    # 7: the tenant (installation) a job works for: validation slots are shared fairly between them
    """
    ALTER TABLE jobs ADD COLUMN tenant TEXT
    """,
    # 8: merge requests hold for the head SHA they were given at
    """
    ALTER TABLE pull_requests ADD COLUMN merge_requested_sha TEXT;
    ALTER TABLE pull_requests ADD COLUMN automerge_sha TEXT
    """,
    # 9: the head SHA for which enabling GitHub's native auto-merge was tried (tried once); where a validation
    # fetches its commit from (the base repository, whose refs/pull/N/head hold every PR head, forks' included)
    """
    ALTER TABLE pull_requests ADD COLUMN native_auto_merge_sha TEXT;
    ALTER TABLE validations ADD COLUMN source_url TEXT
    """,
    # 10: the one "why not merged" comment of a pull request, edited in place
    """
    ALTER TABLE pull_requests ADD COLUMN notice_comment_id INTEGER
    """,
    # 11: which check runs of a validation were concluded, stage → conclusion (NULL: a record made before
    # this migration, whose check runs are not tracked); the reconciler concludes the others
    """
    ALTER TABLE validations ADD COLUMN reported TEXT
    """,
    # 12: an agent run is recorded once per command (the comment, its place and the command's position in
    # it: a comment handled again finds its run); when its creation on Codegen was sent (a job that finds
    # this set looks for the run on Codegen before creating one); the delivery that caused a job (its logs)
    """
    ALTER TABLE agent_runs ADD COLUMN command_key TEXT;
    ALTER TABLE agent_runs ADD COLUMN create_sent_at REAL;
    CREATE UNIQUE INDEX agent_runs_command ON agent_runs(repo, command_key) WHERE command_key IS NOT NULL;
    ALTER TABLE jobs ADD COLUMN delivery_id TEXT
    """,
    # 13: fetching back missed webhooks (bot/intake/redelivery.py): the newest delivery attempt id examined, how
    # many times GitHub was asked to redeliver each guid
    """
    CREATE TABLE redelivery_cursor (
        name TEXT PRIMARY KEY,
        newest_id INTEGER NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE redelivery_asks (
        guid TEXT PRIMARY KEY,
        asks INTEGER NOT NULL,
        last_asked_at REAL NOT NULL
    )
    """,
    # 14: the head SHA the bot put in GitHub's merge queue (`enqueuePullRequest`): undone with
    # `dequeuePullRequest` by `/codegen merge cancel` and `/codegen hold`; the bot's own merge train
    # (`merge.train`): when a pull request became ready, into which base branch (its place in line)
    """
    ALTER TABLE pull_requests ADD COLUMN queued_sha TEXT;
    ALTER TABLE pull_requests ADD COLUMN train_ready_at REAL;
    ALTER TABLE pull_requests ADD COLUMN train_base TEXT;
    CREATE INDEX pull_requests_train ON pull_requests(repo, train_base, train_ready_at)
        WHERE train_ready_at IS NOT NULL
    """,
    # 15: when a user was last told, in a thread, that they may not command the bot (one reply per user per
    # thread per 10 minutes)
    """
    CREATE TABLE refusals (
        repo TEXT NOT NULL,
        number INTEGER NOT NULL,
        user TEXT NOT NULL,
        replied_at REAL NOT NULL,
        PRIMARY KEY (repo, number, user)
    )
    """,
    # 16: the retention sweep (bot/store/retention.py) reads ended rows oldest first: deliveries, jobs and
    # validations by when they ended, then key (only ended rows are indexed: storing a delivery adds nothing)
    """
    CREATE INDEX deliveries_ended ON deliveries ((coalesce(handled_at, received_at)), id)
        WHERE state IN ('handled', 'failed');
    CREATE INDEX jobs_ended ON jobs ((coalesce(updated_at, created_at)), id)
        WHERE state IN ('done', 'failed', 'cancelled');
    CREATE INDEX validations_ended ON validations ((coalesce(finished_at, queued_at)), id)
        WHERE state IN ('done', 'cancelled')
    """,
    # 17: several replicas on one PostgreSQL store (bot/dispatch/claims.py): who claimed a job or a delivery and
    # until when its lease holds (an expired lease is claimed by another replica); a delivery's ordering key
    # (one repository's issue or pull request: never two of one key in flight, oldest first)
    """
    ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until REAL;
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE deliveries ADD COLUMN lease_until REAL;
    ALTER TABLE deliveries ADD COLUMN order_key TEXT;
    CREATE INDEX deliveries_order ON deliveries(order_key, received_at) WHERE state = 'pending'
    """,
    # 18: a delivery claim (bot/dispatch/delivery_claims.py) takes each ordering key's oldest pending delivery
    # (received_at, then id: the index gives it in one probe) and asks whether any delivery of the key is under
    # a lease: only the few deliveries being handled are indexed
    """
    DROP INDEX deliveries_order;
    CREATE INDEX deliveries_order ON deliveries(order_key, received_at, id) WHERE state = 'pending';
    CREATE INDEX deliveries_leased ON deliveries(order_key) WHERE state = 'pending' AND lease_until IS NOT NULL
    """,
]
