"""A fake repository backed by a real git repository (`FakeGitHub.back_with_git(full_name, path)`): GitHub's
comparisons, merges and branch updates then really happen in git, like GitHub does them.

Without a git repository (`Repo.git_dir` None, the default) the fake stays state-only: nothing here runs.

What a backed repository does (handlers in github_rest_repos.py and github_rest_pulls.py call this module):
- `GET /compare/{base}...{head}`: each side is a branch name (`refs/heads/<name>` of the git repository,
  after dropping an `owner:` prefix) or a commit sha; unknown → 404. `ahead_by`/`behind_by` are
  `git rev-list --left-right --count base...head`, `status` follows from them, `commits` are
  `base..head` (oldest first, at most 250, like GitHub), `files` come from `git diff --raw/--numstat
  base...head` (no `patch`), `merge_base_commit` is `git merge-base`, and a diff media type answers
  `git diff base...head`. Comparisons preset with `set_comparison` are not consulted.
- `PUT /pulls/{n}/update-branch`: `git merge-tree --write-tree <head> <base>`, then `git commit-tree
  -p <head> -p <base>` with the message "Merge branch '<base>' into <head_ref>"; the new commit is
  published as `refs/pull/N/head` and, for a same-repository head, `refs/heads/<head_ref>`. Base already
  contained in the head → 422 "There are no new commits on the base branch."; a conflict → 422 "merge
  conflict between base and head"; nothing changes in either case. (Both texts as GitHub sends them with
  422, observed and recorded in lightspeedwp/.github scripts/automation/__tests__/keep-pr-current.test.js;
  jules-sdk#126 (github.com/google-labs-code/jules-sdk/pull/126): "GitHub also returns 422 when a branch
  is already up to date".)
- `PUT /pulls/{n}/merge`: the merged tree of base and head (`git merge-tree --write-tree <base> <head>`)
  committed per `merge_method`: "merge" with the parents base and head (message "Merge pull request #N from
  <head owner>/<head_ref>" and the title, GitHub's default), "squash" with base as the only parent
  (message "<title> (#N)"). Decision: "rebase" is squash-equivalent (one commit on top of base with the
  merged tree), not one new commit per pull request commit. `commit_title` / `commit_message` replace the
  default message's parts. A conflict → 405 "Pull Request is not mergeable: merge conflict between base and
  head", nothing changes. The base branch moves in git.
- Moving a branch: `git update-ref` (with the old value, so a concurrent move fails loudly), except for the
  branch checked out in a non-bare repository's main working tree: there `git reset -q --keep <new>`, which
  moves the branch, index and working tree together and keeps uncommitted changes that do not conflict.
  So a later `git add -A && git commit` there (tests/support/validation_scenario.py `Project.commit`)
  builds on the new commit with its files. Other worktrees (`git worktree add`) are not looked after.
- Commits are authored by the caller (the app's bot, `<login>@users.noreply.github.com`) and committed by
  "GitHub <noreply@github.com>" like GitHub's web-flow commits; dates are the real time.
- The git calls are synchronous, so one request's git steps never interleave with another's.
- A head or base commit missing from the git repository (a pull request head not published as
  `refs/pull/N/head`, a base branch git lacks) is a broken test setup: `GitSetupError`, which the fake
  records as a FAKE BUG violation and answers 500.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.github_bodies import iso
from tests.fakes.github_rest_base import HttpError, not_found
from tests.fakes.github_state import Comparison, Pull, PullFile, Repo

__all__ = [
    "GitComparison",
    "GitRepository",
    "GitSetupError",
    "attach_git",
    "commit_entries",
    "compare_in_git",
    "git_of",
    "merge_in_git",
    "update_branch_in_git",
]

COMMITTER = ("GitHub", "noreply@github.com")
NO_NEW_COMMITS = "There are no new commits on the base branch."
UPDATE_CONFLICT = "merge conflict between base and head"
MERGE_CONFLICT = "Pull Request is not mergeable: merge conflict between base and head"
MAX_COMMITS = 250  # GitHub's compare lists at most 250 commits
FILE_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied", "T": "changed"}
LOG_FORMAT = "%H%x00%P%x00%T%x00%an%x00%ae%x00%at%x00%cn%x00%ce%x00%ct%x00%B%x1e"
SHA = re.compile(r"[0-9a-f]{4,40}")
#: variables that would point git elsewhere than `-C <path>` (e.g. set by a git hook running the tests)
GIT_LOCATION_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")


class GitSetupError(RuntimeError):
    """The git repository lacks what the fake's state says it has: the test set up something inconsistent."""


@dataclass
class GitComparison(Comparison):
    """A `Comparison` computed from git, with what the compare answer needs besides."""

    base_sha: str = ""
    head_sha: str = ""
    merge_base_sha: str = ""
    commits: list[dict[str, Any]] = field(default_factory=list)  # oldest first: sha, parents, tree, ...


class GitRepository:
    """Plumbing commands on one git repository (bare or not)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, *args: str, ok: tuple[int, ...] = (0,), env: dict[str, str] | None = None) -> tuple[int, str]:
        """(exit code, stdout) of `git -C path args`; an exit code not in `ok` raises GitSetupError."""
        base = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION_VARIABLES}
        done = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                              env={**base, **(env or {})}, check=False)
        if done.returncode not in ok:
            raise GitSetupError(f"git {' '.join(args)} in {self.path}: exit {done.returncode}: {done.stderr.strip()}")
        return done.returncode, done.stdout

    def out(self, *args: str) -> str:
        return self.run(*args)[1].strip()

    def commit_of(self, rev: str) -> str | None:
        """The commit `rev` (a full ref or a sha) names, or None."""
        code, out = self.run("rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}", ok=(0, 1))
        return out.strip() if code == 0 else None

    def resolve(self, name: str) -> str | None:
        """A compare side: a branch (`refs/heads/<name>`) or a commit sha; None when git has neither."""
        name = name.split(":")[-1]
        for prefix in ("refs/heads/", "heads/"):
            name = name.removeprefix(prefix)
        found = self.commit_of(f"refs/heads/{name}")
        if found is None and SHA.fullmatch(name):
            found = self.commit_of(name)
        return found

    def require(self, rev: str, what: str) -> str:
        found = self.commit_of(rev)
        if found is None:
            raise GitSetupError(f"{self.path} has no commit {rev} ({what})")
        return found

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.run("merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1))[0] == 0

    def merged_tree(self, ours: str, theirs: str) -> str | None:
        """The tree of merging `theirs` into `ours` (index and working tree untouched); None on a conflict."""
        code, out = self.run("merge-tree", "--write-tree", "--no-messages", ours, theirs, ok=(0, 1))
        return out.splitlines()[0].strip() if code == 0 else None

    def commit_tree(self, tree: str, parents: list[str], message: str, author: str) -> str:
        env = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": f"{author}@users.noreply.github.com",
               "GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1]}
        args = ["commit-tree", tree, *[arg for parent in parents for arg in ("-p", parent)], "-m", message]
        return self.run(*args, env=env)[1].strip()

    def checked_out(self) -> str | None:
        """The full ref of the branch checked out in the main working tree; None for a bare repository or a
        detached HEAD."""
        if self.out("rev-parse", "--is-bare-repository") == "true":
            return None
        code, out = self.run("symbolic-ref", "-q", "HEAD", ok=(0, 1))
        return out.strip() if code == 0 else None

    def move(self, ref: str, new: str, old: str | None = None) -> None:
        """Point `ref` at `new` (from `old`, when given); the checked-out branch takes its working tree along."""
        if ref == self.checked_out():
            if old is not None and self.out("rev-parse", "HEAD") != old:
                raise GitSetupError(f"{ref} in {self.path} moved while the fake was merging")
            committer = {"GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1]}
            self.run("reset", "-q", "--keep", new, env=committer)
            return
        self.run("update-ref", "-m", "fake GitHub", ref, new, *([old] if old else []))


def git_of(repo: Repo) -> GitRepository | None:
    """The git repository behind `repo`, if it has one."""
    return GitRepository(repo.git_dir) if repo.git_dir is not None else None


def attach_git(repo: Repo, path: Path) -> None:
    """Back `repo` with the git repository at `path`: branches the fake knows and git has take git's heads,
    and a repository without a clone URL gets `file://<path>`."""
    git = GitRepository(path)
    git.run("rev-parse", "--git-dir")  # raises when `path` is no git repository
    repo.git_dir = path
    for branch in list(repo.branches):
        sha = git.commit_of(f"refs/heads/{branch}")
        if sha is not None:
            repo.branches[branch] = sha
    if repo.clone_url is None:
        repo.clone_url = f"file://{path}"


def _pull_head(git: GitRepository, pull: Pull) -> str:
    return git.require(pull.head_sha, f"pull request #{pull.number}'s head; publish it as refs/pull/N/head")


def update_branch_in_git(git: GitRepository, repo: Repo, pull: Pull, actor: str) -> str:
    """Merge the base branch into the pull request's head in git and publish the result; its sha."""
    base = git.require(f"refs/heads/{pull.base_ref}", f"base branch {pull.base_ref}")
    head = _pull_head(git, pull)
    if git.is_ancestor(base, head):
        raise HttpError(422, NO_NEW_COMMITS)
    tree = git.merged_tree(head, base)
    if tree is None:
        raise HttpError(422, UPDATE_CONFLICT)
    new = git.commit_tree(tree, [head, base], f"Merge branch '{pull.base_ref}' into {pull.head_ref}", actor)
    git.move(f"refs/pull/{pull.number}/head", new)
    if pull.head_repo == repo.full_name:
        git.move(f"refs/heads/{pull.head_ref}", new)
    return new


def _merge_message(pull: Pull, method: str, body: dict[str, Any]) -> str:
    """GitHub's default commit title and message for the merge method, or the request's."""
    if method == "merge":
        owner = (pull.head_repo or "unknown").split("/")[0]
        title, message = f"Merge pull request #{pull.number} from {owner}/{pull.head_ref}", pull.title
    else:
        title, message = f"{pull.title} (#{pull.number})", pull.body or ""
    title = body.get("commit_title") or title
    message = body.get("commit_message", message) or ""
    return f"{title}\n\n{message}" if message else title


def merge_in_git(git: GitRepository, pull: Pull, body: dict[str, Any], actor: str) -> str:
    """Merge the pull request into its base branch in git per `merge_method`; the new base head's sha."""
    method = body.get("merge_method", "merge")
    base = git.require(f"refs/heads/{pull.base_ref}", f"base branch {pull.base_ref}")
    head = _pull_head(git, pull)
    tree = git.merged_tree(base, head)
    if tree is None:
        raise HttpError(405, MERGE_CONFLICT)
    parents = [base, head] if method == "merge" else [base]
    new = git.commit_tree(tree, parents, _merge_message(pull, method, body), actor)
    git.move(f"refs/heads/{pull.base_ref}", new, base)
    return new


def _commits(git: GitRepository, base: str, head: str) -> list[dict[str, Any]]:
    out = git.out("log", f"--format={LOG_FORMAT}", f"--max-count={MAX_COMMITS}", "--reverse", f"{base}..{head}")
    commits: list[dict[str, Any]] = []
    for record in filter(None, (r.strip("\n") for r in out.split("\x1e"))):
        sha, parents, tree, an, ae, at, cn, ce, ct, message = record.split("\x00", 9)
        commits.append({"sha": sha, "parents": parents.split(), "tree": tree, "message": message.rstrip("\n"),
                        "author": (an, ae, int(at)), "committer": (cn, ce, int(ct))})
    return commits


def _numstat(git: GitRepository, spec: str) -> dict[str, tuple[int, int]]:
    """Lines added and deleted per (new) path; binary files count 0."""
    fields = git.run("diff", "-z", "-M", "--numstat", spec)[1].split("\x00")
    counts: dict[str, tuple[int, int]] = {}
    i = 0
    while i < len(fields) - 1:
        added, deleted, path = fields[i].split("\t", 2)
        if not path:  # a rename: the old and the new path follow
            path, i = fields[i + 2], i + 2
        counts[path] = (int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0)
        i += 1
    return counts


def _files(git: GitRepository, base: str, head: str) -> list[PullFile]:
    spec = f"{base}...{head}"
    fields = git.run("diff", "-z", "-M", "--raw", "--no-abbrev", spec)[1].split("\x00")
    counts, i = _numstat(git, spec), 0
    files: list[PullFile] = []
    while i < len(fields) - 1:
        _, _, old_sha, new_sha, code = fields[i].lstrip(":").split(" ")
        renamed = code[0] in "RC"
        old, path = (fields[i + 1], fields[i + 2]) if renamed else (None, fields[i + 1])
        added, deleted = counts.get(path, (0, 0))
        files.append(PullFile(path, FILE_STATUS.get(code[0], "modified"), added, deleted, None,
                              old_sha if code[0] == "D" else new_sha, old))
        i += 3 if renamed else 2
    return files


def compare_in_git(git: GitRepository, base_name: str, head_name: str) -> GitComparison:
    """GitHub's comparison of two branches or commits, from git; 404 when either is unknown or they share
    no history."""
    base, head = git.resolve(base_name), git.resolve(head_name)
    if base is None or head is None:
        raise not_found()
    code, merge_base = git.run("merge-base", base, head, ok=(0, 1))
    if code != 0:
        raise HttpError(404, f"No common ancestor between {base_name} and {head_name}.")
    behind, ahead = (int(n) for n in git.out("rev-list", "--left-right", "--count", f"{base}...{head}").split())
    status = {(False, False): "identical", (True, False): "ahead", (False, True): "behind"}.get(
        (ahead > 0, behind > 0), "diverged")
    diff = git.run("diff", f"{base}...{head}")[1]
    return GitComparison(status, ahead, behind, _files(git, base, head), diff, base, head, merge_base.strip(),
                         _commits(git, base, head))


def commit_entries(template: dict[str, Any], commits: list[dict[str, Any]], api: str, html: str) -> list[Any]:
    """Compare answer `commits` entries (shaped like `template`, the description's example) for git's commits;
    `api`/`html` are the repository's API and web URLs."""
    entries: list[Any] = []
    for commit in commits:
        entry = dict(template, sha=commit["sha"], url=f"{api}/commits/{commit['sha']}",
                     html_url=f"{html}/commit/{commit['sha']}", comments_url=f"{api}/commits/{commit['sha']}/comments")
        people = {role: {"name": name, "email": email, "date": iso(at)}
                  for role, (name, email, at) in (("author", commit["author"]), ("committer", commit["committer"]))}
        entry["commit"] = dict(template["commit"], message=commit["message"], url=f"{api}/git/commits/{commit['sha']}",
                               tree={"sha": commit["tree"], "url": f"{api}/git/trees/{commit['tree']}"}, **people)
        entry["parents"] = [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
                            for p in commit["parents"]]
        entries.append(entry)
    return entries
