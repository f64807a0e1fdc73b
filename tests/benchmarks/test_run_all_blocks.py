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
