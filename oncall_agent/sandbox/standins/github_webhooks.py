"""The GitHub stand-in's repository webhook: every new issue comment is delivered as a signed `issue_comment`
event (`action: created`) to a configured URL, the way GitHub does it: a POST from another thread shortly after
the write, JSON body {action, issue, comment, repository, sender}, headers `X-GitHub-Event`,
`X-GitHub-Delivery` (a GUID), `X-GitHub-Hook-ID`, `X-Hub-Signature` (sha1) and `X-Hub-Signature-256`
(HMAC-SHA256 of the body with the webhook secret), `User-Agent: GitHub-Hookshot/...`.

Each delivery is recorded (GUID, status, body) so tests can look at it and redeliver it as GitHub's
"Redeliver" button does (same GUID, same body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass

import requests

from oncall_agent.sandbox.standins.github_model import GhComment, GhIssue, GhRepo
from oncall_agent.sandbox.standins.github_render import comment_json, issue_json, repo_json, user_json
from oncall_agent.sandbox.standins.github_state import GitHubState

HOOK_ID = 424242


@dataclass
class Delivery:
    guid: str
    event: str
    body: bytes
    status: int | None = None  # None: not answered (yet, or the connection failed)
    answer: str = ""


class WebhookSender:
    """Delivers `issue_comment` events of `state` to `url`, signed with `secret`; `base` is the stand-in's own
    URL (every URL in the payload carries it, as on GitHub)."""

    def __init__(self, state: GitHubState, base: str, url: str, secret: str) -> None:
        self._state, self._base, self._url, self._secret = state, base.rstrip("/"), url, secret
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        state.on_comment = self._comment_created

    def _comment_created(self, repo: GhRepo, issue: GhIssue, comment: GhComment) -> None:
        # Rendered now (the caller holds the state lock), sent from another thread as GitHub does.
        payload = {
            "action": "created",
            "issue": issue_json(self._base, repo, issue),
            "comment": comment_json(self._base, repo, comment),
            "repository": repo_json(self._base, repo),
            "sender": user_json(self._base, comment.author),
        }
        delivery = Delivery(str(uuid.uuid4()), "issue_comment", json.dumps(payload).encode())
        with self._lock:
            self.deliveries.append(delivery)
        threading.Thread(target=self.send, args=(delivery,), name="github-webhook", daemon=True).start()

    def headers(self, delivery: Delivery) -> dict[str, str]:
        sha256 = hmac.new(self._secret.encode(), delivery.body, hashlib.sha256).hexdigest()
        sha1 = hmac.new(self._secret.encode(), delivery.body, hashlib.sha1).hexdigest()
        return {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/standin",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.guid,
            "X-GitHub-Hook-ID": str(HOOK_ID),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-Hub-Signature": f"sha1={sha1}",
            "X-Hub-Signature-256": f"sha256={sha256}",
        }

    def send(self, delivery: Delivery) -> int | None:
        """POST `delivery` (again, for a redelivery); GitHub waits 10 s for an answer."""
        try:
            answer = requests.post(self._url, data=delivery.body, headers=self.headers(delivery), timeout=10)
        except requests.RequestException as exc:
            delivery.status, delivery.answer = None, f"{type(exc).__name__}: {exc}"
            return None
        delivery.status, delivery.answer = answer.status_code, answer.text
        return answer.status_code

    def stop(self) -> None:
        if self._state.on_comment == self._comment_created:
            self._state.on_comment = None
