"""run_all --only of the spliced benchmarks (latency_real, refine_cost) replaces their blocks of RESULTS.md alone."""
from __future__ import annotations

from benchmarks import run_all
from benchmarks.common import Section, Target


def _section(name: str, value: str) -> Section:
    block = {"latency_real": "latency-real", "refine_cost": "refine-cost"}[name]
    sec = Section(f"{name} section", block=block)
    sec.notes.append(f"{name} measured {value}")
    sec.targets.append(Target(f"{name} target", "≤ 1", value, True))
    return sec


def test_only_spliced_benchmarks_replace_their_blocks(tmp_path, monkeypatch):
    assert "refine_cost" in run_all.BENCHMARKS and set(run_all.SPLICED) <= set(run_all.BENCHMARKS)
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(run_all, "RESULTS", results)
    monkeypatch.delenv("BENCH_DATA", raising=False)
    results.write_text(run_all.render([Section("Other benchmark")], {"date": "today"}, 1.0))
    value = {"v": "1"}
    monkeypatch.setattr(run_all, "_run_one", lambda name, **kw: _section(name, value["v"]))
    assert run_all.main(["--only", "latency_real", "refine_cost"]) == 0
    value["v"] = "2"
    assert run_all.main(["--only", "refine_cost"]) == 0
    text = results.read_text()
    assert "## Other benchmark" in text
    assert text.count("<!-- refine-cost:begin -->") == 1 and text.count("<!-- latency-real:begin -->") == 1
    assert "refine_cost measured 2" in text and "refine_cost measured 1" not in text
    assert "latency_real measured 1" in text  # untouched by the second run
    # a failed run leaves the stored blocks alone
    monkeypatch.setattr(run_all, "_run_one", lambda name, **kw: Section(f"{name}: FAILED"))
    assert run_all.main(["--only", "refine_cost"]) == 1
    assert results.read_text() == text


def _section_in_child(name: str, **kw) -> Section:
    import os

    sec = Section(f"{name} from pid {os.getpid()}")
    sec.notes.append(repr(kw))
    return sec


def _segfault(name: str, **kw) -> Section:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("not reached")


def test_isolate_runs_each_section_in_a_fresh_interpreter_and_a_crash_loses_only_its_own():
    """With --isolate run_all runs a section in a spawned process: its result comes back; a native crash there
    (SIGSEGV) gives a FAILED section instead of ending the whole run."""
    import os

    sec = run_all._run_isolated("x", runner=_section_in_child, data="d")
    assert sec.title.startswith("x from pid ") and sec.title != f"x from pid {os.getpid()}"
    assert sec.notes == ["{'data': 'd'}"]
    dead = run_all._run_isolated("y", runner=_segfault)
    assert dead.title == "y: FAILED" and "ended without a result" in dead.notes[0]


def test_only_of_sections_outside_markers_refuses_to_rewrite_results_without_the_others(tmp_path, monkeypatch,
                                                                                          capsys):
    """`--only latency switch` would render RESULTS.md from the sections it ran alone (latency sits between no
    markers), dropping every other one: refused with a message, the file untouched; --out FILE, the whole list
    without quality, or spliced ones alone still run."""
    import pytest

    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(run_all, "RESULTS", results)
    monkeypatch.delenv("BENCH_DATA", raising=False)
    results.write_text(run_all.render([Section("Other benchmark")], {"date": "today"}, 1.0))
    before = results.read_text()
    ran = []
    monkeypatch.setattr(run_all, "_run_one", lambda name, **kw: ran.append(name) or Section(f"{name} ran"))
    with pytest.raises(SystemExit) as e:
        run_all.main(["--only", "latency", "switch"])
    assert e.value.code == 2 and "--out" in capsys.readouterr().err
    assert results.read_text() == before and ran == []
    assert run_all.main(["--only", "latency", "--out", str(tmp_path / "r.md")]) == 0
    assert ran == ["latency"] and results.read_text() == before
    every = [n for n in run_all.BENCHMARKS if n != "quality"]
    assert run_all.main(["--only", *every]) == 0
    assert "## latency ran" in results.read_text() and "## Other benchmark" not in results.read_text()
