"""`make bench` real-photo quality section: sets found, three predictors, stored record, RESULTS.md blocks."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from benchmarks import bench_quality, run_all
from benchmarks.bench_quality import Variant

H, W = 48, 64


def _object_folder(root, n_images: int, seed: int = 0):
    """An object folder: n images, one bright rectangle each (mask 255) with a 128 border band."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n_images):
        rgb = rng.integers(0, 60, (H, W, 3), dtype=np.uint8)
        x0, y0 = 10 + 3 * i, 8 + 2 * i
        mask = np.zeros((H, W), np.uint8)
        mask[y0 - 2:y0 + 24, x0 - 2:x0 + 30] = 128
        mask[y0:y0 + 22, x0:x0 + 28] = 255
        rgb[mask == 255] = (220, 40, 40)
        Image.fromarray(rgb).save(root / "images" / f"im{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"im{i}_0.png")
    return root


@pytest.fixture
def bench(tmp_path):
    """A benchmark collection with a GrabCut/ and a Berkeley/ object folder, and a README file beside."""
    root = tmp_path / "bench"
    _object_folder(root / "GrabCut", 2, seed=1)
    _object_folder(root / "Berkeley", 3, seed=2)
    (root / "README.md").write_text("not a set")
    return root


GRABCUT_ONLY = [Variant("grabcut", "GrabCut from clicks (no network)", "grabcut", False, False, 0, 512, "cpu")]


def test_variants_follow_the_annotator_defaults():
    from annotator.settings import default_settings

    s = default_settings()
    default, default_grabcut, network, network_whole, network_snap, grabcut = bench_quality.variants()
    assert (default.key, default.checkpoint, default.refine, default.brs, default.snap, default.max_size) == \
        ("default", None, s.refine, s.brs, s.snap, s.max_size)
    assert default.refine_method == s.refine_method == "colour" and "colour refinement" in default.label
    # the same predictor with GrabCut refinement instead (Model → Refine with GrabCut), for comparison
    assert (default_grabcut.refine, default_grabcut.refine_method, default_grabcut.brs, default_grabcut.snap) == \
        (True, "grabcut", s.brs, s.snap) and "GrabCut refinement" in default_grabcut.label
    assert (default.zoom_in > 0) == s.zoom_in
    assert (network.refine, network.brs, network.snap, network.checkpoint) == (False, False, False, None)
    assert network.zoom_in == default.zoom_in > 0 and "zoom-in" in network.label  # RITM's protocol includes it
    assert (network_whole.zoom_in, network_whole.brs, network_whole.snap, network_whole.refine) == (0, False, False,
                                                                                                   False)
    assert (network_snap.refine, network_snap.brs, network_snap.snap) == (False, False, True)
    assert grabcut.checkpoint == "grabcut" and not grabcut.refine


def test_every_set_of_the_folder_is_measured_with_every_predictor(bench, tmp_path):
    out = tmp_path / "per_object"
    record = bench_quality.measure(bench, limit=1, out_dir=out)
    assert sorted(record["sets"]) == ["Berkeley", "GrabCut"]
    assert list(record["predictors"]) == ["default", "default_grabcut", "network", "network_whole", "network_snap",
                                          "grabcut"]
    for name, entry in record["sets"].items():
        assert sorted(entry["runs"]) == ["default", "default_grabcut", "grabcut", "network", "network_snap",
                                         "network_whole"]
        for key, r in entry["runs"].items():
            assert r["objects"] == 1 and 1 <= r["noc@90"] <= 20 and len(r["miou_per_click"]) == 20
            assert set(r["corrections"]) == {"clicks", "median_fixed", "regions_over_500px", "intent_missed"}
            assert set(r["setbacks"]) == {"drop", "clicks", "objects"} and r["setbacks"]["objects"] <= 1
            rows = list(csv.DictReader((out / name / key / "per_object.csv").open()))
            assert len(rows) == 1 and rows[0]["image"] == "im0"
    assert record["limit"] == 1 and record["checkpoint"]["sha256_12"] == bench_quality.checkpoint_hash()
    sec = bench_quality.section(record)
    assert "development run, 1 objects per set" in sec.title
    r = record["sets"]["GrabCut"]["runs"]["default"]["corrections"]
    assert f"{r['intent_missed']} of {r['regions_over_500px']}" in sec.markdown()
    sb = record["sets"]["GrabCut"]["runs"]["default"]["setbacks"]["objects"]
    assert "set back" in sec.markdown() and f"| {sb} ({sb * 100:.0f} %) |" in sec.markdown()
    assert sec.targets and all(t.met is None for t in sec.targets)  # a limited run is not judged


def test_one_set_alone_and_refusals(bench, tmp_path):
    assert [f.name for f in bench_quality.find_sets(bench / "GrabCut")] == ["GrabCut"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(bench_quality.DatasetError, match="empty"):
        bench_quality.find_sets(tmp_path / "empty")


def _record(grabcut_noc90: float, berkeley_noc90: float, berkeley_failed: int) -> dict:
    def runs(noc90, failed, n):
        return {"noc@85": noc90 - 0.5, "noc@90": noc90, "failed@85": 0, "failed@90": failed, "objects": n,
                "images": n, "skipped_images": 0, "seconds": 1.0, "miou_per_click": [0.5, 0.8, 0.9, 0.9, 0.95]}
    return {"format": bench_quality.FORMAT, "version": 1, "date": "2026-12-01 10:00 UTC", "commit": "abc1234",
            "machine": {"cpu": "test cpu", "gpu": "none"}, "checkpoint": {"sha256_12": "0123456789ab"},
            "data": "bench", "limit": None, "per_object": "runs/bench_quality/x",
            "predictors": {"default": "default (f-BRS)", "network": "its network alone", "grabcut": "GrabCut"},
            "sets": {"GrabCut": {"runs": {"default": runs(grabcut_noc90, 0, 50), "network": runs(3.9, 1, 50),
                                          "grabcut": runs(9.0, 5, 50)}},
                     "Berkeley": {"runs": {"default": runs(berkeley_noc90, berkeley_failed, 100),
                                           "network": runs(7.0, 9, 100), "grabcut": runs(12.0, 20, 100)}}}}


def test_targets_and_published_numbers():
    sec = bench_quality.section(_record(2.9, 5.5, 4))
    met = {t.benchmark: (t.measured, t.met) for t in sec.targets}
    assert met["GrabCut NoC@90, default predictor as the annotator runs it"] == ("2.90", True)
    assert met["Berkeley NoC@90, default predictor as the annotator runs it"] == ("5.50", False)
    assert met["GrabCut NoC@90, its network alone"] == ("3.90", True)
    assert met["Berkeley NoC@90, its network alone"] == ("7.00", False)
    assert met["Berkeley: objects failing 90 % at 20 clicks, default predictor as the annotator runs it"] == \
        ("4 of 100 (4.0 %)", False)
    assert met["GrabCut: objects failing 90 % at 20 clicks, default predictor as the annotator runs it"][1]
    text = sec.markdown()
    for published in ("6.04 | 8.65", "2.04 | 3.22", "1.54 | 2.26"):
        assert published in text
    assert "| **GrabCut** (this run) | 9.00 | 12.00 |" in text


def test_stored_section_survives_a_plain_run_and_only_quality_splices(bench, tmp_path, monkeypatch):
    store, results = tmp_path / "results_real.json", tmp_path / "RESULTS.md"
    monkeypatch.setattr(bench_quality, "STORE", store)
    monkeypatch.setattr(run_all, "RESULTS", results)
    monkeypatch.setattr(bench_quality, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(bench_quality, "variants", lambda: GRABCUT_ONLY)
    monkeypatch.delenv("BENCH_DATA", raising=False)
    monkeypatch.delenv("BENCH_QUALITY_LIMIT", raising=False)
    info = {"date": "today"}
    plain = run_all.Section("Other benchmark")
    results.write_text(run_all.render([plain], info, 1.0))
    # --only quality without data is refused
    with pytest.raises(SystemExit):
        run_all.main(["--only", "quality"])
    # a limited run stores nothing and leaves RESULTS.md alone
    assert run_all.main(["--only", "quality", "--bench-data", str(bench), "--quality-limit", "1"]) == 0
    assert not store.exists() and "Real photos" not in results.read_text()
    # a full run stores its record and replaces only its blocks of RESULTS.md
    assert run_all.main(["--only", "quality", "--bench-data", str(bench)]) == 0
    record = json.loads(store.read_text())
    assert record["limit"] is None and record["sets"]["Berkeley"]["runs"]["grabcut"]["objects"] == 3
    text = results.read_text()
    assert "## Other benchmark" in text and text.count("<!-- real-photo:begin -->") == 1
    assert "<!-- real-photo-targets:begin -->" in text
    assert text.index("real-photo-targets:begin") < text.index("\n## Other benchmark") < \
        text.index("\n## Real photos")
    # a run again replaces the blocks instead of adding them
    results.write_text(run_all.splice(text, bench_quality.section(record)))
    assert results.read_text().count("<!-- real-photo:begin -->") == 1
    # a plain run (no data) renders the stored section, marked as stored
    stored = bench_quality.stored_section()
    assert stored is not None and "stored run of" in stored.title
    assert any("not re-measured" in n for n in stored.notes)
    text = run_all.render([plain, stored], info, 1.0)
    assert "## Real photos" in text and "Other benchmark" in text


def test_stored_numbers_of_another_model_are_marked_stale(tmp_path, monkeypatch):
    store = tmp_path / "results_real.json"
    monkeypatch.setattr(bench_quality, "STORE", store)
    bench_quality.save_store(_record(2.9, 5.5, 4))
    sec = bench_quality.stored_section()
    current = bench_quality.checkpoint_hash()
    assert any("Stale" in n for n in sec.notes) == (current != "0123456789ab")


def test_grabcut_rows_are_reused_from_a_stored_run_on_the_same_data_and_can_be_skipped(bench, tmp_path,
                                                                                        monkeypatch):
    """GrabCut from clicks does not depend on the model: a stored full run's rows on the same data come back
    (marked reused) instead of being measured again; BENCH_QUALITY_SKIP leaves a predictor out."""
    store = tmp_path / "results_real.json"
    monkeypatch.setattr(bench_quality, "STORE", store)
    monkeypatch.setattr(bench_quality, "variants", lambda: GRABCUT_ONLY)
    monkeypatch.delenv("BENCH_QUALITY_SKIP", raising=False)
    first = bench_quality.measure(bench, limit=None, out_dir=tmp_path / "a")
    bench_quality.save_store(first)
    import training.noc as noc
    calls = []
    monkeypatch.setattr(noc, "evaluate", lambda *a, **k: calls.append(a))
    again = bench_quality.measure(bench, limit=None, out_dir=tmp_path / "b")
    assert calls == []  # nothing measured again
    for name in ("GrabCut", "Berkeley"):
        r = again["sets"][name]["runs"]["grabcut"]
        assert r["reused_from"] == first["date"]
        assert r["noc@90"] == first["sets"][name]["runs"]["grabcut"]["noc@90"]
    assert "reused" in "\n".join(bench_quality.section(again).notes)
    monkeypatch.setenv("BENCH_QUALITY_SKIP", "grabcut")
    skipped = bench_quality.measure(bench, limit=None, out_dir=tmp_path / "c")
    assert all(not e["runs"] for e in skipped["sets"].values())
