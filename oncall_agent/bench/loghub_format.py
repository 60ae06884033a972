"""Reading the LogHub 2k samples the way the logparser (Drain) benchmark does.

Each system's `*_2k.log` is split with its `log_format` (`<Date> <Time> <Level> <Component>: <Content>`) into
fields, of which Drain only sees `Content`; `*_2k.log_structured.csv` gives every line's ground-truth `EventId`.
The samples are research-use data: they are read from the shared fixtures folder, never copied here.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHARED_ENV = "ONCALL_SHARED_DIR"


def default_loghub_dir() -> Path:
    """`$ONCALL_SHARED_DIR/fixtures/loghub` when set, else `../shared/fixtures/loghub` beside the repository."""
    shared = os.environ.get(SHARED_ENV)
    if shared:
        return Path(shared) / "fixtures" / "loghub"
    return Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "loghub"


def format_regex(log_format: str) -> re.Pattern[str]:
    """The benchmark's `generate_logformat_regex`: each `<Field>` becomes a lazy named group, runs of spaces
    between fields match any whitespace, and the pattern is anchored at both ends."""
    pattern = ""
    for index, part in enumerate(re.split(r"(<[^<>]+>)", log_format)):
        if index % 2 == 0:
            pattern += re.sub(" +", r"\\s+", part)
        else:
            pattern += f"(?P<{part.strip('<>')}>.*?)"
    return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class Sample:
    name: str
    contents: list[str]  # the `Content` field of every line, in file order
    truth: list[str]  # the ground-truth EventId of every line
    unparsed: int  # lines the log format did not match (their whole text is used as content)


def load_settings(loghub_dir: Path) -> dict[str, dict[str, Any]]:
    """`drain_benchmark_settings.json`: per dataset `log_file`, `log_format`, `regex` (masks), `st`, `depth`."""
    settings: dict[str, dict[str, Any]] = json.loads((loghub_dir / "drain_benchmark_settings.json").read_text())
    return settings


def read_contents(path: Path, log_format: str) -> tuple[list[str], int]:
    """The `Content` of each line (stripped, as the benchmark strips lines) and how many lines did not parse."""
    regex = format_regex(log_format)
    contents: list[str] = []
    unparsed = 0
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        match = regex.search(line)
        if match is None:
            unparsed += 1
        contents.append(match.group("Content") if match else line)
    return contents, unparsed


def read_truth(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["EventId"] for row in csv.DictReader(handle)]


def load_sample(loghub_dir: Path, name: str, settings: dict[str, Any]) -> Sample:
    log_path = loghub_dir / settings["log_file"]
    contents, unparsed = read_contents(log_path, settings["log_format"])
    truth = read_truth(log_path.with_name(log_path.name + "_structured.csv"))
    if len(truth) != len(contents):
        raise ValueError(f"{name}: {len(contents)} log lines but {len(truth)} ground-truth rows")
    return Sample(name, contents, truth, unparsed)
