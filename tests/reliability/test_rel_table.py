"""The Reliability table: the suite writes its figures to build/, never to the tracked README."""
from collections import Counter

import pytest

from tests.reliability import table


def test_figures_go_to_a_file_and_a_command_copies_them(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{table.BEGIN}\nold\n{table.END}\nrest\n", encoding="utf-8")
    before = table.README.read_bytes()
    path = table.write_figures(Counter(kills=3, hostile_files=1234, lost=0), tmp_path / "f" / "figures.json")
    assert table.README.read_bytes() == before, "storing the figures leaves the tracked README alone"
    assert "copied" in table.update_readme(path, readme)
    text = readme.read_text(encoding="utf-8")
    assert "| 1,234 |" in text and "old" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    assert "already" in table.update_readme(path, readme)


def test_no_figures_or_lost_annotations_leave_the_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"{table.BEGIN}\nold\n{table.END}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no figures yet"):
        table.update_readme(tmp_path / "missing.json", readme)
    path = table.write_figures(Counter(lost=1), tmp_path / "figures.json")
    with pytest.raises(ValueError, match="lost annotations"):
        table.update_readme(path, readme)
    assert "old" in readme.read_text(encoding="utf-8")


def test_the_suite_end_writes_the_figures_file_not_the_readme(tmp_path, monkeypatch):
    import tests.reliability.conftest as conf

    before = table.README.read_bytes()
    monkeypatch.setattr(table, "FIGURES", tmp_path / "figures.json")
    monkeypatch.setattr(conf, "_collected", {"x"})
    monkeypatch.setattr(conf, "_whole_set_passed", lambda: True)
    monkeypatch.setattr(conf, "_figures", Counter(kills=2, inputs=5))
    conf.pytest_sessionfinish(None, 0)
    assert table.README.read_bytes() == before, "a full passing run leaves the tracked README alone"
    assert '"kills": 2' in (tmp_path / "figures.json").read_text()


def test_hostile_rows_say_tried_refused_and_crashes(tmp_path):
    """Issue 16: the README states tried, refused cleanly and crashes 0 (refused = tried - read)."""
    text = table.render_section(Counter(hostile_files=250, hostile_read=6))
    rows = {line.split(" | ")[0].lstrip("| ").split(":")[0].split(" (")[0]: line.rsplit(" | ", 1)[1].rstrip(" |")
            for line in text.splitlines() if line.startswith("| ") and not line.startswith("| what")}
    assert rows["hostile or broken files tried on the readers, the CLI and the annotator"] == "250"
    assert rows["… of which read, not refused"] == "6"
    assert rows["… of which refused"] == "244"
    assert rows["crashes, hangs or tracebacks"] == "0"
    assert "hostile_read" in table.write_figures(Counter(hostile_read=2), tmp_path / "f.json").read_text()
