"""`ifcn compare`: two NoC runs of the same objects compared object by object (training/noc_compare.py)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from models.cli import main
from models.errors import IFCNError
from training.noc import NocResult, ObjectResult
from training.noc_compare import Paired, by_size, compare, format_report
from training.noc_report import write_outputs

TARGETS = (0.85, 0.9)


def _run(folder: Path, nocs: dict[tuple[str, int], int], max_clicks: int = 20, split: str = "val",
         areas: dict[tuple[str, int], int] | None = None) -> Path:
    """A NoC output folder as `ifcn noc --out` writes it, whose objects need `nocs` clicks at 90 % (and one click
    fewer, at least one, at 85 %); an object at `max_clicks` failed. Objects are 1000 px unless `areas` says."""
    objects = []
    for (image, obj), n in nocs.items():
        failed = n >= max_clicks
        ious = [0.5] * (n - 1) + [0.8 if failed else 0.95]
        area = (areas or {}).get((image, obj), 1000)
        objects.append(ObjectResult(image, obj, area, ious, [], {0.85: max(1, n - 1), 0.9: n},
                                    {0.85: False, 0.9: failed}))
    result = NocResult(model="m", refine=True, max_clicks=max_clicks, targets=TARGETS, objects=objects, images=1,
                       info={"split": split})
    write_outputs(folder, result)
    return folder


def test_paired_statistics():
    """Mean difference (candidate - baseline), its standard error, counts and verdicts on known numbers."""
    p = Paired("s", [(5, 3), (10, 8), (4, 4), (20, 19)], [(False, False)] * 3 + [(True, False)])
    assert p.n == 4 and p.mean(0) == pytest.approx(9.75) and p.mean(1) == pytest.approx(8.5)
    assert p.diff == pytest.approx(-1.25)
    d = [-2, -2, 0, -1]
    sd = math.sqrt(sum((x + 1.25) ** 2 for x in d) / 3)
    assert p.se == pytest.approx(sd / 2)
    assert p.counts() == (3, 0, 1) and p.failed(0) == 1 and p.failed(1) == 0
    assert p.verdict() == "gain"  # -1.25 is 2.6 standard errors below 0
    assert Paired("s", [(5, 6), (5, 4), (5, 5)]).verdict() == "tie"
    assert Paired("s", [(1, 3), (2, 4), (1, 2), (3, 5)]).verdict() == "loss"
    assert Paired("s", [(3, 3)]).verdict() == "tie" and Paired("s", [(3, 2)]).verdict() == "gain"


def test_sets_are_matched_by_their_path_and_objects_by_image_and_object(tmp_path):
    """Folders of several runs (one per source) are paired set by set; a set or objects found on one side only are
    left out, and said so; the last row is all sets together."""
    a, b = tmp_path / "a", tmp_path / "b"
    _run(a / "coco", {("i1", 0): 3, ("i1", 1): 20, ("i2", 0): 5})
    _run(a / "clothing", {("c1", 0): 2, ("c2", 0): 4})
    _run(a / "camvid", {("v1", 0): 7})
    _run(b / "coco", {("i1", 0): 2, ("i1", 1): 12, ("i3", 0): 1})
    _run(b / "clothing", {("c1", 0): 2, ("c2", 0): 6})
    results, notes = compare(a, b)
    by = {r.name: r for r in results}
    assert list(by) == ["clothing", "coco", "all"]
    assert by["coco"].pairs == [(3, 2), (20, 12)] and by["coco"].fails == [(False, False), (True, False)]
    assert by["clothing"].pairs == [(2, 2), (4, 6)]
    assert by["all"].n == 4 and by["all"].diff == pytest.approx((-1 - 8 + 0 + 2) / 4)
    assert any("camvid only in the baseline" in n for n in notes)
    assert any("coco: 2 objects in both runs (3 / 3)" in n for n in notes)
    report = format_report(results, 90, notes)
    assert "coco" in report and "1 / 0" in report and "camvid only in the baseline" in report
    # NoC@85 is read from its own column
    assert {r.name: r.pairs for r in compare(a, b, 85)[0]}["coco"] == [(2, 1), (19, 11)]


def test_two_single_runs_are_compared_whatever_their_names(tmp_path):
    a = _run(tmp_path / "v5" / "camvid", {("x", 0): 4, ("y", 0): 6})
    b = _run(tmp_path / "other_name", {("x", 0): 4, ("y", 0): 5})
    results, notes = compare(a, b)
    assert len(results) == 1 and results[0].name == "camvid" and results[0].pairs == [(4, 4), (6, 5)] and not notes


def test_runs_of_another_protocol_or_without_a_common_object_are_refused(tmp_path):
    a = _run(tmp_path / "a" / "s", {("x", 0): 4})
    with pytest.raises(IFCNError, match="max_clicks"):
        compare(tmp_path / "a", _run(tmp_path / "b" / "s", {("x", 0): 4}, max_clicks=10).parent)
    with pytest.raises(IFCNError, match="split"):
        compare(tmp_path / "a", _run(tmp_path / "c" / "s", {("x", 0): 4}, split="train").parent)
    with pytest.raises(IFCNError, match="no object in common"):
        compare(a, _run(tmp_path / "d", {("z", 0): 4}))
    with pytest.raises(IFCNError, match="no set in common"):
        compare(tmp_path / "a", _run(tmp_path / "e" / "t", {("x", 0): 4}).parent.parent)


def test_a_setting_one_run_does_not_record_is_not_a_clash(tmp_path):
    """`make bench`'s runs recorded no split before 2026-12-06: they compare with `ifcn noc --data` runs of the
    same objects (split "all"), while a recorded different split is still refused."""
    import json

    old = _run(tmp_path / "bench" / "Berkeley", {("x", 0): 4, ("y", 0): 6})
    summary = json.loads((old / "summary.json").read_text())
    summary.pop("split", None)
    (old / "summary.json").write_text(json.dumps(summary))
    new = _run(tmp_path / "noc" / "Berkeley", {("x", 0): 3, ("y", 0): 6}, split="all")
    results, _ = compare(old.parent, new.parent)
    assert results[0].pairs == [(4, 3), (6, 6)]
    with pytest.raises(IFCNError, match=r"split \(val / all\)"):
        compare(_run(tmp_path / "v" / "Berkeley", {("x", 0): 4}).parent, new.parent)


def test_bad_folders_and_files_get_a_clear_message(tmp_path):
    with pytest.raises(IFCNError, match="no such folder"):
        compare(tmp_path / "missing", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IFCNError, match="holds no per_object.csv"):
        compare(tmp_path / "empty", tmp_path / "empty")
    good = _run(tmp_path / "good", {("x", 0): 4})
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "per_object.csv").write_text("image,object,noc@85\nx,0,3\n")
    with pytest.raises(IFCNError, match=r"has no noc@90 column \(it has: noc@85\)"):
        compare(good, bad)
    (bad / "per_object.csv").write_text("image,object,noc@90\nx,0,lots\n")
    with pytest.raises(IFCNError, match="line 2: not a NoC row"):
        compare(good, bad)
    (bad / "per_object.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(IFCNError, match="cannot be read"):
        compare(good, bad)


def test_the_command_prints_a_table_or_json(tmp_path, capsys):
    a = _run(tmp_path / "a", {(f"i{k}", 0): 6 for k in range(8)})
    b = _run(tmp_path / "b", {(f"i{k}", 0): 6 - (k % 3 > 0) for k in range(8)})
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "NoC@90 baseline" in out and "fewer clicks per object at 90 %" in out
    assert main(["compare", str(a), str(b), "--target", "85", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == 85 and data["sets"][0]["objects"] == 8 and data["sets"][0]["verdict"] == "gain"
    assert data["sets"][0]["better_worse_same"] == [5, 0, 3]
    assert main(["compare", str(a), str(tmp_path / "nowhere")]) != 0
    assert "no such folder" in capsys.readouterr().err


def test_objects_are_also_compared_by_size(tmp_path, capsys):
    """--by-size: all sets' objects split by COCO's sizes (area < 32², < 96², the rest); a size without objects is
    left out; runs that do not record areas are refused for it."""
    areas = {("s1", 0): 100, ("s2", 0): 1023, ("m1", 0): 1024, ("m2", 0): 9215, ("l1", 0): 9216, ("l2", 0): 50000}
    a = _run(tmp_path / "a" / "coco", {k: 10 for k in areas}, areas=areas)
    _run(tmp_path / "a" / "camvid", {("l3", 0): 4}, areas={("l3", 0): 20000})
    b = _run(tmp_path / "b" / "coco", {("s1", 0): 10, ("s2", 0): 12, ("m1", 0): 9, ("m2", 0): 10, ("l1", 0): 7,
                                       ("l2", 0): 8}, areas=areas)
    _run(tmp_path / "b" / "camvid", {("l3", 0): 3}, areas={("l3", 0): 20000})
    results, notes = compare(a.parent, b.parent)
    sizes = {r.name.split()[0]: r for r in by_size(results[-1])}
    assert sorted(sizes) == ["large", "medium", "small"]
    assert sizes["small"].pairs == [(10, 10), (10, 12)] and sizes["medium"].pairs == [(10, 9), (10, 10)]
    assert sorted(sizes["large"].pairs) == [(4, 3), (10, 7), (10, 8)] and sizes["large"].diff == pytest.approx(-2)
    assert sum(r.n for r in sizes.values()) == results[-1].n
    only_small = Paired("all", [(3, 2)], [(False, False)], [10.0])
    assert [r.name.split()[0] for r in by_size(only_small)] == ["small"]
    report = format_report(results, 90, notes, by_size(results[-1]))
    assert "large (area >= 9216 px)" in report and "small (area < 1024 px)" in report
    assert main(["compare", str(a.parent), str(b.parent), "--by-size", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["objects"] for s in data["sizes"]] == [2, 2, 3] and data["sets"][-1]["set"] == "all"
    assert main(["compare", str(a.parent), str(b.parent)]) == 0
    assert "large" not in capsys.readouterr().out  # only when asked
    old = tmp_path / "old"
    old.mkdir()
    (old / "per_object.csv").write_text("image,object,noc@90,failed@90\ns1,0,10,0\n")
    with pytest.raises(IFCNError, match="no object areas"):
        by_size(Paired("all", [(1, 1)], [(False, False)], [None]))
    assert main(["compare", str(old), str(old), "--by-size"]) != 0
    assert "no object areas" in capsys.readouterr().err
    (old / "per_object.csv").write_text("image,object,area,noc@90\ns1,0,-5,10\n")
    with pytest.raises(IFCNError, match="line 2: not a NoC row"):
        compare(old, old)
