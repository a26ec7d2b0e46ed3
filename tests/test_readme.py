"""README.md keeps its promises: the two commands, and the parameter table generated from the schema."""

from __future__ import annotations

from pathlib import Path

from evidence.params import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def test_parameter_table_is_generated_from_the_schema():
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- params-table:start -->\n", 1)[1].split("\n<!-- params-table:end -->", 1)[0]
    assert table == markdown_table()


def test_two_commands_and_ci_entry():
    text = (ROOT / "README.md").read_text()
    assert "make workbook" in text and "make test" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()
