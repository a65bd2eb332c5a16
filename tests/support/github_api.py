"""A loopback stand-in for GitHub's REST API, held to GitHub's own OpenAPI description.

A real HTTP server on 127.0.0.1 with an in-memory repository (issues and pull requests,
comments, labels, a repository variable, collaborator permissions, reactions, workflow
dispatches). Every request is checked against tests/fixtures/github/openapi-subset.json (the
method and path template exist, query parameters are known and well typed, the JSON body
validates against the request schema) and so is every response it sends; any mismatch is kept
in `violations`, which tests assert is empty. Traffic is recorded, and faults can be injected
per operation (operationId): an HTTP status with headers, or a timeout (the connection is held
and then dropped without an answer, the request not carried out).

In a test: `with GitHubStandIn() as gh: ...` (gh.url is GITHUB_API_URL). As a process, for
workflow tests under act: `python -m support.github_api --port 0 --state FILE` (run with tests/
on PYTHONPATH) prints its URL on the first line; FILE, when it exists, seeds the repository,
and is rewritten after every request with the state, the requests and the violations. The
same are served at GET /_control/state, /_control/requests, /_control/violations; POST
/_control/faults takes {"operationId": [fault, ...]}.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from openapi_schema_validator import OAS30Validator

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "github" / "openapi-subset.json"
BOT = "github-actions[bot]"
SECONDARY_LIMIT = ("You have exceeded a secondary rate limit. Please wait a few minutes before "
                   "you try again.")


class Spec:
    """Routes, parameters and schemas of the vendored OpenAPI subset."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.doc = json.loads(path.read_text(encoding="utf-8"))
        self.components = self.doc["components"]
        self.routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for template, ops in self.doc["paths"].items():
            rx = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)",
                                         re.escape(template)) + "$")
            self.routes.append((rx, template, ops))
        self._validators: dict[str, OAS30Validator] = {}

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            parts = node["$ref"].removeprefix("#/").split("/")
            cur: Any = self.doc
            for p in parts:
                cur = cur[p]
            node = cur
        return node

    def match(self, method: str, path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        for rx, _template, ops in self.routes:
            m = rx.match(path)
            if m and method.lower() in ops:
                return ops[method.lower()], {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def validate(self, schema: dict[str, Any], instance: Any) -> list[str]:
        key = json.dumps(schema, sort_keys=True)
        v = self._validators.get(key)
        if v is None:
            v = OAS30Validator({"components": self.components, "allOf": [schema]})
            self._validators[key] = v
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
                for e in v.iter_errors(instance)]

    def query_params(self, op: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for p in op.get("parameters", []):
            p = self.resolve(p)
            if p["in"] == "query":
                out[p["name"]] = p["schema"]
        return out

    def minimal(self, schema: dict[str, Any], depth: int = 0) -> Any:
        """The smallest instance of a schema (required properties only, nulls where allowed):
        the skeleton the stand-in fills in, so its responses match GitHub's shapes."""
        schema = self.resolve(schema)
        if "allOf" in schema:
            out: dict[str, Any] = {}
            for s in schema["allOf"]:
                part = self.minimal(s, depth)
                if isinstance(part, dict):
                    out.update(part)
            return out
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self.minimal(schema[key][0], depth)
        if schema.get("nullable") and depth > 0:
            return None
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return {name: self.minimal(schema["properties"][name], depth + 1)
                    for name in schema.get("required", []) if name in schema.get("properties", {})}
        if kind == "array":
            return []
        if kind == "integer" or kind == "number":
            return 1
        if kind == "boolean":
            return False
        if schema.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        if schema.get("format") == "uri":
            return "http://127.0.0.1/"
        return "x"


@dataclass
class Fault:
    status: int = 0                  # 0: a timeout (held for `delay`, then no answer)
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    delay: float = 1.0

    @classmethod
    def bad_gateway(cls) -> Fault:
        return cls(502, message="Bad Gateway")

    @classmethod
    def secondary_rate_limit(cls, retry_after: int = 0) -> Fault:
        return cls(403, {"Retry-After": str(retry_after)}, SECONDARY_LIMIT)

    @classmethod
    def primary_rate_limit(cls, reset_in: int = 0) -> Fault:
        return cls(403, {"x-ratelimit-remaining": "0",
                         "x-ratelimit-reset": str(int(time.time()) + reset_in)},
                   "API rate limit exceeded for installation ID 1.")

    @classmethod
    def too_many_requests(cls, retry_after: int = 0) -> Fault:
        return cls(429, {"Retry-After": str(retry_after)}, "Too Many Requests")

    @classmethod
    def forbidden(cls) -> Fault:
        return cls(403, message="Resource not accessible by integration")

    @classmethod
    def timeout(cls, delay: float = 1.0) -> Fault:
        return cls(0, delay=delay)


class Repository:
    """The in-memory repository the handlers read and change."""

    def __init__(self, full_name: str, spec: Spec, base: str) -> None:
        self.full_name = full_name
        self.spec = spec
        self.base = base
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.variables: dict[str, str] = {}
        self.collaborators: dict[str, str] = {}      # login -> admin|maintain|write|triage|read
        self.dispatches: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.next_id = 1000
        self.clock = 0

    # seeding ------------------------------------------------------------------------------

    def add_issue(self, title: str = "an issue", *, body: str = "", labels: tuple[str, ...] = (),
                  pull: dict[str, str] | None = None, state: str = "open") -> int:
        number = max(self.issues, default=0) + 1
        for name in labels:
            self.ensure_label(name)
        self.issues[number] = {"title": title, "body": body, "labels": list(labels),
                               "state": state, "pull": pull, "created": self.tick()}
        return number

    def add_pull(self, head_ref: str, *, head_repo: str | None = None, title: str = "a PR",
                 labels: tuple[str, ...] = ()) -> int:
        return self.add_issue(title, labels=labels, pull={
            "ref": head_ref, "repo": head_repo or self.full_name})

    def add_comment(self, number: int, body: str, user: str = BOT) -> int:
        cid = self.new_id()
        now = self.tick()
        self.comments[cid] = {"issue": number, "body": body, "user": user,
                              "created": now, "updated": now}
        return cid

    def ensure_label(self, name: str) -> None:
        self.labels.setdefault(name, {"id": self.new_id(), "color": "ededed", "description": None})

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def tick(self) -> str:
        # a clock that moves one second per change, from now: `since` filters work on it
        self.clock += 1
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.clock))

    def dump(self) -> dict[str, Any]:
        return {"full_name": self.full_name, "issues": {str(k): v for k, v in self.issues.items()},
                "comments": {str(k): v for k, v in self.comments.items()},
                "labels": self.labels, "variables": self.variables,
                "collaborators": self.collaborators, "dispatches": self.dispatches,
                "reactions": self.reactions}

    def load(self, data: dict[str, Any]) -> None:
        self.issues = {int(k): v for k, v in data.get("issues", {}).items()}
        self.comments = {int(k): v for k, v in data.get("comments", {}).items()}
        self.labels = data.get("labels", {})
        self.variables = data.get("variables", {})
        self.collaborators = data.get("collaborators", {})
        self.dispatches = data.get("dispatches", [])
        self.reactions = data.get("reactions", [])
        self.next_id = max([self.next_id, *self.comments], default=self.next_id)

    # response objects, built on the schema's skeleton --------------------------------------

    def _obj(self, schema: str, **fields: Any) -> dict[str, Any]:
        out = self.spec.minimal({"$ref": f"#/components/schemas/{schema}"})
        out.update(fields)
        return out

    def user(self, login: str) -> dict[str, Any]:
        return self._obj("simple-user", login=login, id=abs(hash(login)) % 10**6,
                         type="Bot" if login.endswith("[bot]") else "User")

    def label(self, name: str) -> dict[str, Any]:
        lb = self.labels[name]
        return self._obj("label", name=name, id=lb["id"], color=lb["color"],
                         description=lb["description"], default=False)

    def repo_obj(self, full_name: str) -> dict[str, Any]:
        owner, _, name = full_name.partition("/")
        return self._obj("repository", full_name=full_name, name=name, owner=self.user(owner),
                         fork=full_name != self.full_name)

    def issue(self, number: int) -> dict[str, Any]:
        i = self.issues[number]
        url = f"{self.base}/repos/{self.full_name}/issues/{number}"
        extra: dict[str, Any] = {}
        if i["pull"]:
            extra["pull_request"] = {"url": f"{self.base}/repos/{self.full_name}/pulls/{number}",
                                     "html_url": None, "diff_url": None, "patch_url": None}
        return self._obj("issue", number=number, id=number, title=i["title"], body=i["body"],
                         state=i["state"], labels=[self.label(n) for n in i["labels"]],
                         user=self.user(BOT), url=url, created_at=i["created"],
                         updated_at=i["created"], comments=sum(
                             1 for c in self.comments.values() if c["issue"] == number), **extra)

    def pull(self, number: int, schema: str = "pull-request-simple") -> dict[str, Any]:
        i = self.issues[number]
        def branch(ref: str, repo: str) -> dict[str, Any]:
            return {"label": f"{repo.split('/')[0]}:{ref}", "ref": ref, "sha": "0" * 40,
                    "repo": self.repo_obj(repo), "user": self.user(repo.split("/")[0])}
        return self._obj(schema, number=number, id=number, title=i["title"], body=i["body"],
                         state=i["state"], labels=[self.label(n) for n in i["labels"]],
                         user=self.user("someone"),
                         head=branch(i["pull"]["ref"], i["pull"]["repo"]),
                         base=branch("main", self.full_name),
                         url=f"{self.base}/repos/{self.full_name}/pulls/{number}")

    def comment(self, cid: int) -> dict[str, Any]:
        c = self.comments[cid]
        return self._obj("issue-comment", id=cid, body=c["body"], user=self.user(c["user"]),
                         created_at=c["created"], updated_at=c["updated"],
                         url=f"{self.base}/repos/{self.full_name}/issues/comments/{cid}",
                         issue_url=f"{self.base}/repos/{self.full_name}/issues/{c['issue']}",
                         author_association="NONE")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _page(items: list[Any], query: dict[str, str]) -> tuple[list[Any], bool]:
    per_page = min(int(query.get("per_page", "30")), 100)
    page = max(int(query.get("page", "1")), 1)
    start = (page - 1) * per_page
    return items[start:start + per_page], len(items) > start + per_page


class GitHubStandIn:
    def __init__(self, repository: str = "octo/queue", *, state_file: Path | None = None,
                 port: int = 0) -> None:
        self.spec = Spec()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.stand_in = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.repo = Repository(repository, self.spec, self.url)
        self.requests: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.faults: dict[str, list[Fault]] = {}
        self.state_file = state_file
        self.lock = threading.RLock()
        self._thread: threading.Thread | None = None
        if state_file is not None and state_file.exists():
            self.repo.load(json.loads(state_file.read_text()))

    def __enter__(self) -> GitHubStandIn:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def inject(self, operation: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault(operation, []).extend(faults)

    def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if operation is None or r["op"] == operation]

    def reset_traffic(self) -> None:
        with self.lock:
            self.requests.clear()

    def save(self) -> None:
        if self.state_file is None:
            return
        data = {"repo": self.repo.dump(), "requests": self.requests, "violations": self.violations}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.state_file)

    # request handling -------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               raw_body: bytes) -> tuple[int, dict[str, str], Any, bool]:
        """(status, headers, JSON body or None, validate the response?)"""
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        found = self.spec.match(method, split.path)
        record: dict[str, Any] = {"method": method, "path": split.path, "query": query,
                                  "op": found[0]["operationId"] if found else ""}
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                self.violations.append(f"{method} {raw_path}: body is not JSON")
        record["body"] = body
        with self.lock:
            self.requests.append(record)
        if found is None:
            self.violations.append(f"{method} {split.path}: no such operation in the subset")
            return 404, {}, {"message": "Not Found"}, False
        op, params = found
        self._check_request(op, method, split.path, query, body, headers)
        with self.lock:
            queue = self.faults.get(op["operationId"], [])
            fault = queue.pop(0) if queue else None
        if fault is not None:
            record["fault"] = fault.status or "timeout"
            if fault.status == 0:
                time.sleep(fault.delay)
                return -1, {}, None, False
            return fault.status, fault.headers, {
                "message": fault.message,
                "documentation_url": "https://docs.github.com/rest"}, False
        try:
            with self.lock:
                status, payload = self._dispatch(op["operationId"], params, query, body)
        except HttpError as e:
            status, payload = e.status, {"message": e.message,
                                         "documentation_url": "https://docs.github.com/rest"}
        record["status"] = status
        self._check_response(op, method, split.path, status, payload)
        with self.lock:
            self.save()
        extra = {}
        if isinstance(payload, tuple):  # (items, more pages)
            payload, more = payload
            if more:
                page = int(query.get("page", "1")) + 1
                q = "&".join(f"{k}={v}" for k, v in {**query, "page": str(page)}.items())
                extra["Link"] = f'<{self.url}{split.path}?{q}>; rel="next"'
        return status, extra, payload, True

    def _check_request(self, op: dict[str, Any], method: str, path: str, query: dict[str, str],
                       body: Any, headers: dict[str, str]) -> None:
        where = f"{method} {path} ({op['operationId']})"
        if not headers.get("authorization", "").lower().startswith(("token ", "bearer ")):
            self.violations.append(f"{where}: no token in Authorization")
        known = self.spec.query_params(op)
        for name, value in query.items():
            if name not in known:
                self.violations.append(f"{where}: unknown query parameter {name!r}")
                continue
            schema = known[name]
            typed: Any = value
            if schema.get("type") == "integer":
                typed = int(value) if value.lstrip("-").isdigit() else value
            elif schema.get("type") == "boolean":
                typed = {"true": True, "false": False}.get(value, value)
            for err in self.spec.validate(schema, typed):
                self.violations.append(f"{where}: query {name}: {err}")
        request = op.get("requestBody")
        if request is None:
            if body not in (None, {}):
                self.violations.append(f"{where}: a body where the operation takes none")
            return
        schema = request["content"]["application/json"]["schema"]
        if (op["operationId"] == "issues/add-labels" and isinstance(body, list)
                and body and all(isinstance(x, str) for x in body)):
            return  # documented: a bare array of names is accepted (PyGithub sends it)
        if body is None:
            if request.get("required"):
                self.violations.append(f"{where}: the required body is missing")
            return
        for err in self.spec.validate(schema, body):
            self.violations.append(f"{where}: request body: {err}")

    def _check_response(self, op: dict[str, Any], method: str, path: str, status: int,
                        payload: Any) -> None:
        where = f"{method} {path} ({op['operationId']}) -> {status}"
        response = op["responses"].get(str(status))
        if response is None and status == 404:
            # GitHub answers 404 for any missing resource, documented or not (a repository
            # variable that is not set, for one): hold it to the basic-error shape
            response = {"$ref": "#/components/responses/not_found"}
        if response is None:
            self.violations.append(f"{where}: status not in the operation's responses")
            return
        response = self.spec.resolve(response)
        content = response.get("content", {}).get("application/json")
        if content is None:
            if payload is not None:
                self.violations.append(f"{where}: a body where the response has none")
            return
        instance = payload[0] if isinstance(payload, tuple) else payload
        for err in self.spec.validate(content["schema"], instance):
            self.violations.append(f"{where}: response: {err}")

    def _dispatch(self, op: str, p: dict[str, str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        r = self.repo
        if f"{p.get('owner')}/{p.get('repo')}" != r.full_name:
            raise HttpError(404, "Not Found")
        if op == "issues/get":
            return 200, r.issue(self._issue(p))
        if op == "issues/create":
            number = r.add_issue(body["title"], body=body.get("body") or "",
                                 labels=tuple(body.get("labels") or ()))
            return 201, r.issue(number)
        if op == "issues/list-for-repo":
            wanted = [x for x in q.get("labels", "").split(",") if x]
            state = q.get("state", "open")
            items = [r.issue(n) for n, i in sorted(r.issues.items(), reverse=True)
                     if not i["pull"] and (state == "all" or i["state"] == state)
                     and all(w in i["labels"] for w in wanted)]
            return 200, _page(items, q)
        if op == "pulls/list":
            state = q.get("state", "open")
            head = q.get("head", "")
            items = [r.pull(n) for n, i in sorted(r.issues.items()) if i["pull"]
                     and (state == "all" or i["state"] == state)
                     and (not head or head == f"{i['pull']['repo'].split('/')[0]}:{i['pull']['ref']}")]
            return 200, _page(items, q)
        if op == "pulls/get":
            n = int(p["pull_number"])
            if n not in r.issues or not r.issues[n]["pull"]:
                raise HttpError(404, "Not Found")
            return 200, r.pull(n, "pull-request")
        if op == "issues/list-comments":
            n = self._issue(p)
            since = q.get("since", "")
            items = [r.comment(cid) for cid, c in sorted(r.comments.items())
                     if c["issue"] == n and c["updated"] >= since]
            return 200, _page(items, q)
        if op == "issues/create-comment":
            cid = r.add_comment(self._issue(p), body["body"])
            return 201, r.comment(cid)
        if op in ("issues/update-comment", "issues/delete-comment", "issues/get-comment",
                  "reactions/create-for-issue-comment"):
            cid = int(p["comment_id"])
            if cid not in r.comments:
                raise HttpError(404, "Not Found")
            if op == "issues/update-comment":
                r.comments[cid].update(body=body["body"], updated=r.tick())
            if op == "issues/delete-comment":
                del r.comments[cid]
                return 204, None
            if op == "reactions/create-for-issue-comment":
                r.reactions.append({"comment": cid, "content": body["content"]})
                return 201, r._obj("reaction", id=r.new_id(), content=body["content"],
                                   user=r.user(BOT))
            return 200, r.comment(cid)
        if op == "issues/add-labels":
            n = self._issue(p)
            names = body if isinstance(body, list) else body["labels"]
            for name in names:
                r.ensure_label(name)  # GitHub creates a label added to an issue
                if name not in r.issues[n]["labels"]:
                    r.issues[n]["labels"].append(name)
            return 200, [r.label(x) for x in r.issues[n]["labels"]]
        if op == "issues/remove-label":
            n = self._issue(p)
            if p["name"] not in r.issues[n]["labels"]:
                raise HttpError(404, "Label does not exist")
            r.issues[n]["labels"].remove(p["name"])
            return 200, [r.label(x) for x in r.issues[n]["labels"]]
        if op == "actions/get-repo-variable":
            if p["name"] not in r.variables:
                raise HttpError(404, "Not Found")
            return 200, r._obj("actions-variable", name=p["name"], value=r.variables[p["name"]])
        if op == "repos/get-collaborator-permission-level":
            role = r.collaborators.get(p["username"])
            if role is None:
                raise HttpError(404, f"{p['username']} is not a user")
            permission = {"maintain": "write", "triage": "read"}.get(role, role)
            return 200, r._obj("repository-collaborator-permission", permission=permission,
                               role_name=role, user=None)
        if op == "actions/create-workflow-dispatch":
            r.dispatches.append({"workflow": p["workflow_id"], "ref": body["ref"],
                                 "inputs": body.get("inputs") or {}})
            return 204, None
        raise HttpError(404, f"{op} is not modelled by the stand-in")

    def _issue(self, p: dict[str, str]) -> int:
        n = int(p["issue_number"])
        if n not in self.repo.issues:
            raise HttpError(404, "Not Found")
        return n

    def control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            if method == "GET" and path == "/_control/requests":
                return 200, self.requests
            if method == "GET" and path == "/_control/violations":
                return 200, self.violations
            if method == "GET" and path == "/_control/state":
                return 200, self.repo.dump()
            if method == "POST" and path == "/_control/faults":
                for op, faults in body.items():
                    self.inject(op, *(Fault(**f) for f in faults))
                return 200, {"ok": True}
        return 404, {"message": "unknown control endpoint"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        stand_in: GitHubStandIn = self.server.stand_in  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith("/_control/"):
            status, payload = stand_in.control(self.command, self.path,
                                               json.loads(raw) if raw else None)
            self._send(status, {}, payload)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload, _ = stand_in.handle(self.command, self.path, headers, raw)
        if status == -1:  # a timeout: no answer at all
            self.close_connection = True
            return
        self._send(status, extra, payload)

    def _send(self, status: int, extra: dict[str, str], payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        headers = {"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "999",
                   "x-ratelimit-reset": str(int(time.time()) + 3600)}
        headers.update({k.lower(): v for k, v in extra.items()})
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.github_api", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--repository", default="octo/queue")
    parser.add_argument("--state", type=Path, help="seed from and record to this JSON file")
    a = parser.parse_args(argv)
    stand_in = GitHubStandIn(a.repository, state_file=a.state, port=a.port)
    stand_in.save()
    print(stand_in.url, flush=True)
    try:
        stand_in.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

