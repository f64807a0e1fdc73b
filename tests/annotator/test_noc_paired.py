"""The Benchmark dialog's paired comparison of model 2 with model 1, without Qt (annotator/noc_results.py)."""
from __future__ import annotations

from pathlib import Path

from annotator.noc_results import NocRun, baseline_of, compare_runs, compare_with_first, paired_text, plan_runs


def _csv(folder: Path, nocs: list[int]) -> Path:
    folder.mkdir(parents=True)
    rows = ["image,object,area,noc@85,noc@90,failed@85,failed@90"]
    rows += [f"i{k},0,100,{n},{n},0,{int(n >= 20)}" for k, n in enumerate(nocs)]
    (folder / "per_object.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_each_run_of_the_second_model_is_compared_with_the_first_models_run_of_its_refinement(tmp_path):
    runs = plan_runs([("current", "a.pt"), ("default", None)], (False, True), tmp_path)
    assert [(r.model, r.refine) for r in runs] == [("current", False), ("current", True), ("default", False),
                                                   ("default", True)]
    assert baseline_of(runs, runs[0]) is None and baseline_of(runs, runs[1]) is None
    assert baseline_of(runs, runs[2]) is runs[0] and baseline_of(runs, runs[3]) is runs[1]


def test_the_comparison_comes_from_ifcn_compare(tmp_path):
    base = NocRun("a", "a.pt", False, _csv(tmp_path / "a", [5, 8, 3, 20, 4, 6]), model="a")
    run = NocRun("b", None, False, _csv(tmp_path / "b", [3, 6, 3, 12, 2, 4]), model="b")
    compare_runs(base, run)
    assert run.paired_error == "" and run.paired["objects"] == 6 and run.paired["verdict"] == "gain"
    assert run.paired["difference"] == round((-2 - 2 + 0 - 8 - 2 - 2) / 6, 4)
    text, tip = paired_text(run)
    assert text.startswith("-2.67 ± ") and text.endswith("(gain)") and "5 objects better, 0 worse, 1 the same" in tip


def test_a_comparison_that_cannot_be_made_says_why(tmp_path):
    base = NocRun("a", "a.pt", False, _csv(tmp_path / "a", [5, 8]), model="a")
    run = NocRun("b", None, False, tmp_path / "missing", model="b")
    compare_runs(base, run)
    assert run.paired is None and "no such folder" in run.paired_error
    assert paired_text(run) == ("–", run.paired_error)


def test_a_run_without_a_counterpart_says_so(tmp_path):
    """The GrabCut baseline as model 1 has no refined run: model 2's refined run says why it has no comparison;
    one whose counterpart did not finish says that."""
    runs = plan_runs([("GrabCut baseline", "grabcut"), ("current", "a.pt")], (False, True), tmp_path)
    assert [(r.model, r.refine) for r in runs] == [("GrabCut baseline", False), ("current", False), ("current", True)]
    compare_with_first(runs, runs[2])
    assert runs[2].paired is None and "no run with this refinement" in paired_text(runs[2])[1]
    runs[0].status = "failed"
    compare_with_first(runs, runs[1])
    assert runs[1].paired is None and "did not finish (failed)" in runs[1].paired_error
    compare_with_first(runs, runs[0])
    assert runs[0].paired is None and runs[0].paired_error == ""
