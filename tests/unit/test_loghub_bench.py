"""LogHub grouping-accuracy benchmark: the metric on hand-made groupings, log-format parsing, and HDFS end to end
(read from the shared fixtures folder, never copied here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oncall_agent.bench.loghub import PUBLISHED, TUNED, grouping_accuracy, main, published_tuning, run_dataset
from oncall_agent.bench.loghub_format import default_loghub_dir, format_regex, load_sample, load_settings

LOGHUB = default_loghub_dir()
needs_loghub = pytest.mark.skipif(
    not (LOGHUB / "drain_benchmark_settings.json").is_file(),
    reason=f"LogHub samples not found at {LOGHUB} (shared fixtures folder missing; set ONCALL_SHARED_DIR)",
)


def test_perfect_grouping_whatever_the_labels() -> None:
    assert grouping_accuracy(["E1", "E1", "E2", "E3"], [7, 7, "x", 0]) == 1.0


def test_split_cluster_makes_all_its_lines_wrong() -> None:
    # E1 is split over predicted groups 1 and 2: none of its three lines counts; E2 alone is right.
    assert grouping_accuracy(["E1", "E1", "E1", "E2"], [1, 1, 2, 3]) == 0.25


def test_merged_cluster_makes_all_its_lines_wrong() -> None:
    # E1 and E2 merged into group 1: three wrong lines; E3 alone is right.
    assert grouping_accuracy(["E1", "E1", "E2", "E3"], [1, 1, 1, 2]) == 0.25


def test_one_line_of_a_big_event_astray_costs_the_whole_event() -> None:
    truth = ["E1"] * 9 + ["E2"]
    predicted = [1] * 8 + [2, 3]
    assert grouping_accuracy(truth, predicted) == pytest.approx(0.1)
    assert grouping_accuracy(truth, [1] * 9 + [2]) == 1.0


def test_everything_in_one_group_is_right_only_for_one_event() -> None:
    assert grouping_accuracy(["E1", "E2", "E3"], [0, 0, 0]) == 0.0
    assert grouping_accuracy(["E1", "E1", "E1"], [0, 0, 0]) == 1.0


def test_mismatched_or_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="predicted"):
        grouping_accuracy(["E1", "E2"], [1])
    with pytest.raises(ValueError, match="no lines"):
        grouping_accuracy([], [])


def test_log_format_yields_the_content_field() -> None:
    regex = format_regex(r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>")
    line = "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200"  # noqa: E501
    match = regex.search(line)
    assert match is not None
    assert match.group("Level") == "INFO"
    assert match.group("Content") == "Notification time out: 3200"


def test_every_published_dataset_has_tuned_settings() -> None:
    assert set(TUNED) == set(PUBLISHED)
    assert all(0 < tuning.st < 1 and tuning.depth >= 3 for tuning in TUNED.values())


@needs_loghub
def test_hdfs_end_to_end() -> None:
    settings = load_settings(LOGHUB)
    sample = load_sample(LOGHUB, "HDFS", settings["HDFS"])
    assert len(sample.contents) == 2000 and sample.unparsed == 0
    tuned = run_dataset(sample, TUNED["HDFS"])
    assert tuned.accuracy >= 0.99
    assert tuned.reached
    # The Drain benchmark's own settings reproduce its published figure (0.9975, printed as 0.998).
    assert run_dataset(sample, published_tuning(settings["HDFS"])).accuracy == pytest.approx(0.9975)


@needs_loghub
def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "--datasets", "HDFS,Apache", "--loghub-dir", str(LOGHUB)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [entry["dataset"] for entry in document["datasets"]] == ["HDFS", "Apache"]
    assert document["all_reached"] is True


def test_cli_reports_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--loghub-dir", str(tmp_path)]) == 2
    assert "no LogHub samples" in capsys.readouterr().err
