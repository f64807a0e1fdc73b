"""benchmarks.bench_gui drives the real window to the end: no modal dialog may wait for an answer nobody gives
(a folder without classes asks for the first class's name on the first click; `make bench` hung there)."""
from __future__ import annotations


def test_the_gui_benchmark_runs_to_the_end_and_restores_the_dialogs(monkeypatch, qapp):
    from annotator.widgets import dialogs
    from benchmarks import bench_gui, common

    monkeypatch.setattr(common, "QUICK", True)  # 4 timed clicks
    before = {k: getattr(dialogs, k) for k in ("message", "ask", "ask_text")}
    sec = bench_gui.run()
    assert {k: getattr(dialogs, k) for k in before} == before
    header, rows = sec.tables[0]
    painted = next(r for r in rows if r[0] == "click → overlay painted")
    assert float(painted[1]) > 0 and int(painted[-1]) == 4
