"""The hostile-checkpoint corpus through every reader: refused with a message naming the file, no
traceback, bounded memory and time (measured in a child process), and `ifcn info` goes on past each."""
import shutil

import pytest

from models.cli import main as cli_main
from tests.reliability.hostile import broken_checkpoint_files, malformed_checkpoints, memory_checkpoints, probe

#: Peak resident memory one read may add (above what the process held before it), and its time.
MEMORY_LIMIT_MB = 300
#: Generous for a loaded 2-core CI machine: a refusal takes well under a second on an idle one, a bomb
#: being inflated or a hang runs far past it.
TIME_LIMIT_S = 30
#: Problems in the weights' values: found when the weights load (load_checkpoint), not by read_meta,
#: which reads the structure only.
VALUE_LEVEL = {"weights_nan.pt", "weights_inf.pt", "weights_huge.pt", "running_var_negative.pt"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, small_checkpoint):
    folder = tmp_path_factory.mktemp("ckpt-corpus")
    return {**memory_checkpoints(folder, small_checkpoint), **malformed_checkpoints(folder, small_checkpoint),
            **broken_checkpoint_files(folder, small_checkpoint)}


def test_corpus_refused_by_each_reader_in_bounded_memory_and_time(corpus, small_checkpoint, figures):
    jobs = [("checkpoint", small_checkpoint), ("meta", small_checkpoint)]
    jobs += [(kind, path) for path, _ in corpus.values() for kind in ("checkpoint", "meta")]
    reports, child = probe(jobs, timeout=600)
    assert not child.killed and child.rc == 0, (child.killed, child.err[-2000:])
    assert len(reports) == len(jobs), child.err[-2000:]
    words = {str(path): w for path, w in corpus.values()}
    problems = []
    for r in reports:
        name = r["file"].rsplit("/", 1)[-1]
        if r["peak_mb"] > MEMORY_LIMIT_MB or r["seconds"] > TIME_LIMIT_S:
            problems.append(f"{r['reader']} {name}: {r['peak_mb']} MB, {r['seconds']} s")
        if r["file"] == str(small_checkpoint) or words.get(r["file"], "") is None:
            if r["outcome"] != "read":
                problems.append(f"{r['reader']} refused the valid {name}: {r['message']}")
        elif r["reader"] == "meta" and name in VALUE_LEVEL and r["outcome"] == "read":
            pass
        elif r["outcome"] != "refused":
            problems.append(f"{r['reader']} {name}: {r['outcome']} {r['message'][-500:]}")
        elif not (r["message"].startswith(r["file"]) and words[r["file"]] in r["message"]
                  and "Traceback" not in r["message"]):
            problems.append(f"{r['reader']} {name}: {r['message']!r} (expected {words[r['file']]!r})")
    assert problems == []
    figures["hostile_files"] += len(corpus)
    figures["hostile_read"] += sum(w is None for _, w in corpus.values())  # the checkpoint reader refuses the rest


def test_info_reports_each_bad_file_and_goes_on(corpus, small_checkpoint, tmp_path, capsys, figures):
    """(In process: read_meta's memory and time are measured above.)"""
    folder = tmp_path / "models"
    folder.mkdir()
    for path, _ in corpus.values():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    shutil.copy(small_checkpoint, folder / "zz_good.pt")
    capsys.readouterr()
    assert cli_main(["info", "--models", str(folder)]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    lines = {line.split(" — ")[0].removeprefix("model: "): line for line in out.out.splitlines()
             if line.startswith("model: ")}
    good = folder / "zz_good.pt"
    assert "unusable" not in lines[str(good)] and "efficientnet_lite0 FCN-8s" in lines[str(good)]
    valid = {p.name for p, w in corpus.values() if w is None}
    for p in folder.glob("*.pt"):
        if p != good and p.name not in VALUE_LEVEL | valid:
            assert f"unusable: {p}:" in lines[str(p)], lines.get(str(p))
    figures["hostile_files"] += len(list(folder.glob("*.pt"))) - 1
    figures["hostile_read"] += len((valid | VALUE_LEVEL) & {p.name for p in folder.glob("*.pt")})  # listed by info


@pytest.mark.parametrize("name", ["weights_nan.pt", "spec_clamp_tiny.pt", "weights_int8.pt",
                                  "zero_stride_17gb.pt"])
def test_export_and_noc_refuse_and_write_nothing(corpus, name, synthetic_devkit, tmp_path, capsys):
    """`ifcn export` never ships a broken model; `ifcn noc` says which file and stops (no traceback)."""
    path = corpus[name][0]
    out = tmp_path / "model.pt"
    for argv in (["export", "--checkpoint", str(path), "--out", str(out)],
                 ["noc", "--checkpoint", str(path), "--voc-root", str(synthetic_devkit), "--out",
                  str(tmp_path / "noc"), "--device", "cpu"]):
        capsys.readouterr()
        rc = cli_main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith(f"error: {path}: ") and "Traceback" not in err, (argv[0], err)
    assert not out.exists()


def test_annotator_keeps_its_model(corpus, window, dialogs_rec, tmp_path):
    from tests.reliability.killloop import make_image_folder

    w = window(make_image_folder(tmp_path / "images", n=1))
    before = w.predictor
    for name in ("weights_nan.pt", "running_var_negative.pt", "spec_std_zero.pt", "deflated_2_8gb.pt",
                 "version_str.pt", "meta_list.pt"):
        path = corpus[name][0]
        dialogs_rec.messages.clear()
        assert not w.load_checkpoint(str(path))
        (kind, title, text), = dialogs_rec.messages
        assert kind == "error" and str(path) in text and "Traceback" not in text, name
        assert w.predictor is before
