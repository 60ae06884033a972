"""GitHubTracker.change_summary against the GitHub stand-in over HTTP: a commit by full and abbreviated sha (its
files from the commit's own answer), a pull by number with its files, and None for what the repository lacks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from oncall_agent.domain.records import CHANGE_BODY_MAX, CHANGE_FILES_MAX, ChangedFile
from tests.contract.test_github_adapter import NOW, REPO, World, serve

pytestmark = pytest.mark.sandbox

SHA = "9f1c2ab" + "e" * 33
MERGED_AT = NOW - timedelta(minutes=20)


@pytest.fixture
def world() -> Iterator[World]:
    for world in serve():
        world.state.add_commit(REPO, "0" * 40, "Initial", "erin", NOW - timedelta(days=2))
        world.state.add_commit(
            REPO,
            SHA,
            "Shrink the pool to 5 (#12)\n\nThe pool was oversized.",
            "dana",
            MERGED_AT,
            pr=12,
            files=["src/pool.py", "config/app.yaml"],
        )
        world.state.add_pull(REPO, 12, "Shrink the pool to 5", MERGED_AT, SHA, "dana", body="x" * 5000)
        yield world


def test_a_commit_by_full_and_abbreviated_sha(world: World) -> None:
    tracker = world.tracker()

    full = tracker.change_summary(REPO, SHA)
    short = tracker.change_summary(REPO, SHA[:7].upper())

    assert full is not None and full == short
    assert (full.kind, full.repo, full.ref, full.author, full.at) == ("commit", REPO, SHA, "dana", MERGED_AT)
    assert (full.title, full.body) == ("Shrink the pool to 5 (#12)", "The pool was oversized.")
    assert full.files == [
        ChangedFile(filename="src/pool.py", status="modified", additions=1, deletions=1),
        ChangedFile(filename="config/app.yaml", status="modified", additions=1, deletions=1),
    ]
    assert (full.changed_files, full.additions, full.deletions) == (2, 2, 2)
    assert full.url == f"{world.base_url}/{REPO}/commit/{SHA}"
    assert full.merge_commit_sha is None and full.state is None


def test_a_pull_by_number_with_its_files(world: World) -> None:
    tracker = world.tracker()

    pull = tracker.change_summary(REPO, "#12")

    assert pull is not None and pull == tracker.change_summary(REPO, "12")
    assert (pull.kind, pull.ref, pull.title, pull.author) == ("pull", "#12", "Shrink the pool to 5", "dana")
    assert (pull.state, pull.at, pull.merge_commit_sha) == ("merged", MERGED_AT, SHA)
    assert len(pull.body) == CHANGE_BODY_MAX
    assert [f.filename for f in pull.files] == ["src/pool.py", "config/app.yaml"]
    assert (pull.changed_files, pull.additions, pull.deletions) == (2, 2, 2)
    assert world.statuses("GET", rf"^/repos/{REPO}/pulls/12/files$") == [200, 200]


def test_an_open_pull_is_not_merged(world: World) -> None:
    world.state.add_pull(REPO, 13, "Work in progress", None, "abcdef1", "erin")

    pull = world.tracker().change_summary(REPO, "13")

    assert pull is not None and (pull.state, pull.merge_commit_sha, pull.files) == ("open", None, [])


def test_files_are_capped(world: World) -> None:
    many = [f"src/m{i}.py" for i in range(CHANGE_FILES_MAX + 20)]
    world.state.add_commit(REPO, "b" * 40, "Big refactor", "erin", NOW - timedelta(minutes=5), files=many)

    big = world.tracker().change_summary(REPO, "b" * 40)

    assert big is not None and len(big.files) == CHANGE_FILES_MAX
    assert big.changed_files == CHANGE_FILES_MAX + 20


def test_what_the_repository_lacks_is_none(world: World) -> None:
    tracker = world.tracker()

    assert tracker.change_summary(REPO, "1234567abc") is None  # GitHub: 422 No commit found for SHA
    assert tracker.change_summary(REPO, "#999") is None
    assert tracker.change_summary("o/missing", SHA) is None
    with pytest.raises(ValueError, match="not a commit sha"):
        tracker.change_summary(REPO, "main")
