"""JSON shapes of the GitHub REST API: the objects PyGithub reads, with the fields it uses.

Every absolute URL is built from the request's own scheme://host:port, or PyGithub refuses to follow it.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from oncall_agent.sandbox.standins.github_http import JSON, iso
from oncall_agent.sandbox.standins.github_model import (
    GhComment,
    GhCommit,
    GhDeployment,
    GhIssue,
    GhLabel,
    GhPull,
    GhRepo,
)


def user_json(base: str, login: str) -> JSON:
    user_id = int(hashlib.sha256(login.lower().encode()).hexdigest()[:7], 16)
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{user_id}",
        "avatar_url": f"{base}/avatars/{quote(login)}",
        "url": f"{base}/users/{quote(login)}",
        "html_url": f"{base}/{quote(login)}",
        "type": kind,
        "site_admin": False,
    }


def repo_url(base: str, repo: GhRepo) -> str:
    return f"{base}/repos/{repo.full_name}"


def repo_json(base: str, repo: GhRepo) -> JSON:
    owner, name = repo.full_name.split("/")
    url = repo_url(base, repo)
    open_issues = sum(1 for issue in repo.issues.values() if issue.state == "open")
    return {
        "id": repo.id,
        "node_id": f"R_{repo.id}",
        "name": name,
        "full_name": repo.full_name,
        "private": True,
        "visibility": "private",
        "owner": user_json(base, owner),
        "html_url": f"{base}/{repo.full_name}",
        "description": None,
        "fork": False,
        "url": url,
        "commits_url": f"{url}/commits{{/sha}}",
        "issues_url": f"{url}/issues{{/number}}",
        "pulls_url": f"{url}/pulls{{/number}}",
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.created_at),
        "pushed_at": iso(max((c.at for c in repo.commits), default=repo.created_at)),
        "default_branch": repo.default_branch,
        "open_issues_count": open_issues,
        "has_issues": True,
        "archived": False,
        "disabled": False,
    }


def commit_json(base: str, repo: GhRepo, commit: GhCommit, *, detail: bool = False) -> JSON:
    url = repo_url(base, repo)
    index = repo.commits.index(commit)
    parents = [repo.commits[index - 1]] if index > 0 else []
    person = {
        "name": commit.author,
        "email": f"{commit.author}@users.noreply.github.com",
        "date": iso(commit.at),
    }
    data: JSON = {
        "url": f"{url}/commits/{commit.sha}",
        "sha": commit.sha,
        "node_id": f"C_{commit.sha}",
        "html_url": f"{base}/{repo.full_name}/commit/{commit.sha}",
        "comments_url": f"{url}/commits/{commit.sha}/comments",
        "commit": {
            "url": f"{url}/git/commits/{commit.sha}",
            "author": person,
            "committer": person,
            "message": commit.message,
            "tree": {"sha": commit.sha, "url": f"{url}/git/trees/{commit.sha}"},
            "comment_count": 0,
        },
        "author": user_json(base, commit.author),
        "committer": user_json(base, commit.author),
        "parents": [
            {
                "sha": p.sha,
                "url": f"{url}/commits/{p.sha}",
                "html_url": f"{base}/{repo.full_name}/commit/{p.sha}",
            }
            for p in parents
        ],
    }
    if detail:
        data["files"] = [_file_json(base, repo, commit, name) for name in commit.files]
        count = len(commit.files)
        data["stats"] = {"additions": count, "deletions": count, "total": 2 * count}
    return data


def _file_json(base: str, repo: GhRepo, commit: GhCommit, name: str) -> JSON:
    """A diff entry (`files` of a commit, GET .../pulls/{n}/files); the stand-in knows names only, so every
    file is one modified line."""
    path = quote(name)
    return {
        "sha": hashlib.sha256(f"{commit.sha}:{name}".encode()).hexdigest()[:40],
        "filename": name,
        "status": "modified",
        "additions": 1,
        "deletions": 1,
        "changes": 2,
        "blob_url": f"{base}/{repo.full_name}/blob/{commit.sha}/{path}",
        "raw_url": f"{base}/{repo.full_name}/raw/{commit.sha}/{path}",
        "contents_url": f"{repo_url(base, repo)}/contents/{path}?ref={commit.sha}",
        "patch": "@@ -1 +1 @@\n-old\n+new",
    }


def pull_commits(repo: GhRepo, pull: GhPull) -> list[GhCommit]:
    """The commits a pull brought: those naming it (squash or merge) or its head."""
    return [c for c in repo.commits if c.pr == pull.number or c.sha == pull.head_sha]


def pull_files_json(base: str, repo: GhRepo, pull: GhPull) -> list[JSON]:
    """GET .../pulls/{n}/files: each file its commits touched, once (the last commit's entry)."""
    entries = {name: _file_json(base, repo, c, name) for c in pull_commits(repo, pull) for name in c.files}
    return list(entries.values())


def label_json(base: str, repo: GhRepo, label: GhLabel) -> JSON:
    return {
        "id": label.id,
        "node_id": f"LA_{label.id}",
        "url": f"{repo_url(base, repo)}/labels/{quote(label.name)}",
        "name": label.name,
        "color": label.color,
        "default": False,
        "description": label.description or None,
    }


def issue_json(base: str, repo: GhRepo, issue: GhIssue) -> JSON:
    url = f"{repo_url(base, repo)}/issues/{issue.number}"
    kind = "pull" if issue.is_pull else "issues"
    data: JSON = {
        "url": url,
        "repository_url": repo_url(base, repo),
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{base}/{repo.full_name}/{kind}/{issue.number}",
        "id": issue.id,
        "node_id": f"I_{issue.id}",
        "number": issue.number,
        "title": issue.title,
        "user": user_json(base, issue.author),
        "labels": [label_json(base, repo, repo.labels[name.lower()]) for name in issue.labels],
        "state": issue.state,
        "state_reason": issue.state_reason,
        "locked": False,
        "assignee": user_json(base, issue.assignees[0]) if issue.assignees else None,
        "assignees": [user_json(base, login) for login in issue.assignees],
        "milestone": None,
        "comments": len(issue.comments),
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "author_association": "MEMBER",
        "body": issue.body,
    }
    if issue.is_pull:
        pull_url = f"{repo_url(base, repo)}/pulls/{issue.number}"
        data["pull_request"] = {
            "url": pull_url,
            "html_url": data["html_url"],
            "merged_at": iso(repo.pulls[issue.number].merged_at),
        }
    return data


def pull_json(base: str, repo: GhRepo, pull: GhPull) -> JSON:
    url = f"{repo_url(base, repo)}/pulls/{pull.number}"
    issue = repo.issues[pull.number]
    merge_sha = next((c.sha for c in repo.commits if c.pr == pull.number), pull.head_sha)
    files = pull_files_json(base, repo, pull)
    branch = {
        "label": f"{repo.full_name.split('/')[0]}:{pull.head_ref}",
        "ref": pull.head_ref,
        "sha": pull.head_sha,
        "repo": repo_json(base, repo),
    }
    base_branch = {
        "label": f"{repo.full_name.split('/')[0]}:{pull.base_ref}",
        "ref": pull.base_ref,
        "sha": repo.commits[-1].sha if repo.commits else pull.head_sha,
        "repo": repo_json(base, repo),
    }
    return {
        "url": url,
        "id": issue.id,
        "node_id": f"PR_{issue.id}",
        "html_url": f"{base}/{repo.full_name}/pull/{pull.number}",
        "diff_url": f"{base}/{repo.full_name}/pull/{pull.number}.diff",
        "issue_url": f"{repo_url(base, repo)}/issues/{pull.number}",
        "commits_url": f"{url}/commits",
        "number": pull.number,
        "state": issue.state,
        "locked": False,
        "title": issue.title,
        "user": user_json(base, pull.author),
        "body": pull.body,
        "labels": [label_json(base, repo, repo.labels[name.lower()]) for name in issue.labels],
        "created_at": iso(pull.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "merged_at": iso(pull.merged_at),
        "merged": pull.merged_at is not None,
        "merge_commit_sha": merge_sha if pull.merged_at is not None else None,
        "commits": max(len(pull_commits(repo, pull)), 1),
        "additions": len(files),
        "deletions": len(files),
        "changed_files": len(files),
        "draft": False,
        "head": branch,
        "base": base_branch,
        "author_association": "MEMBER",
    }


def comment_json(base: str, repo: GhRepo, comment: GhComment) -> JSON:
    return {
        "id": comment.id,
        "node_id": f"IC_{comment.id}",
        "url": f"{repo_url(base, repo)}/issues/comments/{comment.id}",
        "html_url": f"{base}/{repo.full_name}/issues/{comment.issue_number}#issuecomment-{comment.id}",
        "issue_url": f"{repo_url(base, repo)}/issues/{comment.issue_number}",
        "body": comment.body,
        "user": user_json(base, comment.author),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "author_association": "MEMBER",
    }


def deployment_json(base: str, repo: GhRepo, deployment: GhDeployment) -> JSON:
    url = f"{repo_url(base, repo)}/deployments/{deployment.id}"
    return {
        "url": url,
        "id": deployment.id,
        "node_id": f"DE_{deployment.id}",
        "sha": deployment.sha,
        "ref": deployment.ref,
        "task": deployment.task,
        "payload": {},
        "original_environment": deployment.environment,
        "environment": deployment.environment,
        "description": deployment.description or None,
        "creator": user_json(base, deployment.creator),
        "created_at": iso(deployment.created_at),
        "updated_at": iso(deployment.created_at),
        "statuses_url": f"{url}/statuses",
        "repository_url": repo_url(base, repo),
        "transient_environment": False,
        "production_environment": deployment.environment.lower() in {"production", "prod"},
    }


def deployment_status_json(base: str, repo: GhRepo, deployment: GhDeployment) -> JSON:
    url = f"{repo_url(base, repo)}/deployments/{deployment.id}"
    return {
        "url": f"{url}/statuses/{deployment.id}",
        "id": deployment.id,
        "node_id": f"DES_{deployment.id}",
        "state": "success",
        "creator": user_json(base, deployment.creator),
        "description": "",
        "environment": deployment.environment,
        "target_url": "",
        "created_at": iso(deployment.created_at),
        "updated_at": iso(deployment.created_at),
        "deployment_url": url,
        "repository_url": repo_url(base, repo),
    }
