"""environment.yml, pyproject.toml and requirements.lock agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", req.strip())
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_names_the_same_dependencies_and_bounds_as_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = dict(_split(r) for r in py["project"]["dependencies"] + py["project"]["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_split(d) for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python=", "pip")))
    assert conda == wanted
    assert "python=3.11" in env["dependencies"]
    assert {"pip": ["-e ."]} in env["dependencies"]


def test_lock_file_pins_every_dependency_within_its_bounds():
    from packaging.specifiers import SpecifierSet

    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line)
    lock = {k.lower().replace("_", "-"): v for k, v in lock.items()}
    for req in py["project"]["dependencies"] + py["project"]["optional-dependencies"]["test"]:
        name, spec = _split(req)
        assert name in lock, f"{name} is not pinned in requirements.lock"
        assert lock[name] in SpecifierSet(spec), f"{name}=={lock[name]} is outside {spec}"


def test_the_repository_carries_its_licence_citation_and_changelog():
    """The code's licence agrees with pyproject, the citation file is valid CFF 1.2 with the package's version, and
    the changelog is kept."""
    import tomllib

    import yaml

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License") and meta["license"]["text"] == "MIT"
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT" and cff["version"] == meta["version"]
    assert {"title", "authors", "message"} <= set(cff) and cff["authors"][0].get("name")
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
