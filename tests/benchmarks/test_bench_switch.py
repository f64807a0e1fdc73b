"""benchmarks.bench_switch switches images in the real window with and without the decode ahead, to the end."""
from __future__ import annotations


def test_the_switch_benchmark_times_both_modes_and_restores_the_dialogs(monkeypatch, qapp):
    from annotator.widgets import dialogs
    from benchmarks import bench_switch, common

    monkeypatch.setattr(common, "QUICK", True)  # 4 photos, one pass: 3 switches
    before = dialogs.message
    sec = bench_switch.run()
    assert dialogs.message is before
    header, rows = sec.tables[0]
    on, off, ratio = rows
    assert int(on[-1]) + int(off[-1]) == 3 and float(on[1]) > 0 and float(off[1]) > 0
    assert ratio[1].endswith("×") and sec.block == "switch" and len(sec.targets) == 1
