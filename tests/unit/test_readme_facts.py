"""The README and the packaging say what is true of the repository (counts, the licence file, the HTTP routes)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_counts_the_scenarios_that_ship() -> None:
    shipped = len(list((ROOT / "tests" / "scenarios").glob("*.yaml")))
    found = re.search(r"`tests/scenarios/` ships (\d+)", (ROOT / "README.md").read_text())
    assert found is not None, "the README no longer says how many scenarios ship"
    assert int(found.group(1)) == shipped


def test_the_declared_licence_has_its_text_in_the_repository() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


_ROUTE = re.compile(r"@(?:router|app)\.(?:get|post|api_route)\(\s*\"([^\"]+)\"")


def test_every_http_route_of_serve_is_in_the_readme() -> None:
    """Each path `serve` answers (path parameters written `ID`) appears in the README."""
    readme = (ROOT / "README.md").read_text()
    missing = []
    for source in sorted((ROOT / "oncall_agent" / "web").glob("*.py")):
        text = source.read_text()
        prefix = found.group(1) if (found := re.search(r"APIRouter\(prefix=\"([^\"]+)\"", text)) else ""
        for path in _ROUTE.findall(text):
            shown = re.sub(r"\{[^}]+\}", "ID", prefix + path)
            if f"`{shown}`" not in readme and f" {shown}`" not in readme:
                missing.append(f"{source.name}: {shown}")
    assert not missing, missing


def test_the_readme_names_every_llm_script_the_stub_plays() -> None:
    from oncall_agent.sandbox.standins.bedrock_scripts import bundled_scripts

    evaluation = (ROOT / "README.md").read_text().split("### With an LLM", 1)[-1].split("\n## ", 1)[0]
    missing = [name for name in bundled_scripts() if f"`{name}`" not in evaluation]
    assert not missing, f"README's eval --llm section does not name the scripts {missing}"
