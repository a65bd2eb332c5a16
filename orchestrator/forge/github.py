"""GitHub's REST API through PyGithub: issues, comments, labels, pull requests, a repository
variable, collaborator permission, reactions and workflow dispatch. Each method is one request
(or one paged listing), so a caller can count what a report costs.

Everything comes from the environment a runner sets (GITHUB_API_URL, GITHUB_REPOSITORY), never
from GitHub's public host, so a loopback server stands in for tests and GHES works the same.
Retries: GithubRetry waits out a 403 secondary rate limit (Retry-After, else
`secondary_rate_wait`) and a primary one (until x-ratelimit-reset); urllib3 retries 5xx and 429
(honouring Retry-After) and read timeouts with exponential backoff. PyGithub spaces writes at
least `seconds_between_writes` apart (GitHub asks for one second between mutating requests)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry, UnknownObjectException
from urllib3.util.retry import Retry

from orchestrator.errors import UserError
from orchestrator.forge.actions import ActionsEnv

T = TypeVar("T")


class ForgeError(UserError):
    """A GitHub request failed for good (after its retries)."""

    exit_code = 1


class NotFound(ForgeError):
    pass


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str


@dataclass(frozen=True)
class IssueInfo:
    number: int
    labels: tuple[str, ...]
    state: str = "open"
    body: str = ""


@dataclass(frozen=True)
class Tuning:
    """Retry and pacing; tests shrink the waits, production keeps GitHub's recommendations."""

    timeout: int = 15                     # seconds per request (PyGithub takes whole seconds)
    retries: int = 5
    backoff_factor: float = 1.0           # 1, 2, 4, 8 ... seconds between retries
    secondary_rate_wait: float = 60.0     # a 403 secondary limit without Retry-After
    max_rate_limit_wait: float = 900.0    # give up (and report) rather than wait longer
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0


def make_retry(t: Tuning) -> GithubRetry:
    # PATCH (comment edits) is idempotent for us: the same body twice is the same comment
    return GithubRetry(
        total=t.retries, backoff_factor=t.backoff_factor,
        secondary_rate_wait=t.secondary_rate_wait, max_rate_limit_wait=t.max_rate_limit_wait,
        status_forcelist=[*range(500, 600), 429],
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"})


def _describe(e: Exception) -> str:
    if isinstance(e, GithubException):
        data = e.data if isinstance(e.data, dict) else {}
        message = data.get("message") or (str(e.data)[:200] if e.data else "")
        return f"HTTP {e.status}" + (f": {message}" if message else "")
    if isinstance(e, requests.exceptions.RetryError):
        return f"gave up after retries ({str(e)[-160:]})"
    if isinstance(e, requests.exceptions.Timeout):
        return "timed out"
    return f"{type(e).__name__}: {str(e)[-200:]}"


class GitHubApi:
    """One repository. `calls` counts requests attempted through it (retries not included;
    the loopback server in tests counts those)."""

    def __init__(self, env: ActionsEnv, token: str, *, tuning: Tuning = Tuning()) -> None:
        if not token:
            raise UserError("no GitHub token: set GITHUB_TOKEN (or pass --token)")
        owner, name = env.owner_and_name()
        self.repository = f"{owner}/{name}"
        self.owner = owner
        self._gh = Github(auth=Auth.Token(token), base_url=env.api_url, timeout=tuning.timeout,
                          retry=make_retry(tuning), per_page=100, lazy=True,
                          seconds_between_requests=tuning.seconds_between_requests,
                          seconds_between_writes=tuning.seconds_between_writes)
        self._repo = self._gh.get_repo(self.repository)  # lazy: no request
        self.calls = 0

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        self.calls += 1
        try:
            return fn()
        except GithubException as e:
            if isinstance(e, UnknownObjectException) or e.status == 404:
                raise NotFound(f"GitHub: {what}: not found ({_describe(e)})") from None
            raise ForgeError(f"GitHub: {what} failed: {_describe(e)}") from None
        except requests.exceptions.RequestException as e:
            raise ForgeError(f"GitHub: {what} failed: {_describe(e)}") from None

    # issues and pull requests -------------------------------------------------------------

    def issue(self, number: int) -> IssueInfo:
        def get() -> IssueInfo:
            i = self._repo.get_issue(number)
            return IssueInfo(i.number, tuple(lb.name for lb in i.labels), i.state, i.body or "")
        return self._call(f"read issue #{number}", get)

    def open_pull_for_branch(self, branch: str) -> IssueInfo | None:
        def find() -> IssueInfo | None:
            for p in self._repo.get_pulls(state="open", head=f"{self.owner}:{branch}"):
                return IssueInfo(p.number, tuple(lb.name for lb in p.labels), p.state)
            return None
        return self._call(f"list open pull requests for {branch}", find)

    def pull_head_repository(self, number: int) -> str:
        def get() -> str:
            head = self._repo.get_pull(number).head
            return head.repo.full_name if head.repo is not None else ""
        return self._call(f"read pull request #{number}", get)

    def open_issues_with_label(self, label: str) -> list[IssueInfo]:
        """The first page (100) of open issues carrying `label`."""
        def find() -> list[IssueInfo]:
            out = []
            for i in self._repo.get_issues(state="open", labels=[label]).get_page(0):
                out.append(IssueInfo(i.number, tuple(lb.name for lb in i.labels), i.state,
                                     i.body or ""))
            return out
        return self._call(f"list open issues labelled {label!r}", find)

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueInfo:
        def create() -> IssueInfo:
            i = self._repo.create_issue(title=title, body=body, labels=list(labels))
            return IssueInfo(i.number, tuple(labels), "open", body)
        return self._call("create the tracking issue", create)

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        # GitHub creates a label that does not exist yet when it is added to an issue
        self._call(f"add labels {', '.join(labels)} to #{number}",
                   lambda: self._repo.get_issue(number).add_to_labels(*labels))

    def remove_label(self, number: int, label: str) -> None:
        try:
            self._call(f"remove label {label!r} from #{number}",
                       lambda: self._repo.get_issue(number).remove_from_labels(label))
        except NotFound:
            pass  # it was not there: the state we wanted

    # comments ---------------------------------------------------------------------------

    def comments(self, number: int, since: datetime | None = None) -> list[Comment]:
        def listing() -> list[Comment]:
            issue = self._repo.get_issue(number)
            pages = issue.get_comments(since=since) if since else issue.get_comments()
            return [Comment(c.id, c.body or "", c.user.login if c.user else "") for c in pages]
        return self._call(f"list comments on #{number}", listing)

    def create_comment(self, number: int, body: str) -> int:
        return self._call(f"comment on #{number}",
                          lambda: self._repo.get_issue(number).create_comment(body).id)

    def edit_comment(self, number: int, comment_id: int, body: str) -> None:
        self._call(f"edit comment {comment_id}",
                   lambda: self._repo.get_issue(number).get_comment(comment_id).edit(body))

    def delete_comment(self, number: int, comment_id: int) -> None:
        try:
            self._call(f"delete comment {comment_id}",
                       lambda: self._repo.get_issue(number).get_comment(comment_id).delete())
        except NotFound:
            pass

    def react(self, number: int, comment_id: int, content: str) -> None:
        self._call(f"react to comment {comment_id}",
                   lambda: self._repo.get_issue(number).get_comment(comment_id)
                   .create_reaction(content))

    # repository settings and actions -------------------------------------------------------

    def variable(self, name: str) -> str | None:
        """A repository variable's value, None when it is not set."""
        try:
            return self._call(f"read repository variable {name}",
                              lambda: self._repo.get_variable(name).value)
        except NotFound:
            return None

    def permission(self, username: str) -> str:
        """admin, write (maintain reads as write), read or none."""
        try:
            return self._call(f"read {username}'s permission",
                              lambda: self._repo.get_collaborator_permission(username))
        except NotFound:
            return "none"

    def dispatch(self, workflow: str, ref: str, inputs: dict[str, Any]) -> None:
        self._call(f"dispatch workflow {workflow} on {ref}",
                   lambda: self._repo.get_workflow(workflow).create_dispatch(
                       ref, inputs=inputs, throw=True))
