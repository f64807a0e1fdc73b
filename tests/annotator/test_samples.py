"""`make run` annotates a copy of the samples in the user's data folder, never the tracked resources/samples/."""
from annotator.samples import data_dir, samples_workspace
from resources import SAMPLES


def test_samples_are_copied_once_and_never_overwritten(tmp_path):
    dest = samples_workspace(base=tmp_path)
    names = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".jpg", ".md"))
    assert sorted(p.name for p in dest.iterdir()) == names
    assert (dest / "coffee.jpg").read_bytes() == (SAMPLES / "coffee.jpg").read_bytes()
    (dest / "coffee.jpg").write_bytes(b"user's own")          # never overwritten
    (dest / "rocket.jpg").unlink()                              # a missing photo comes back
    (dest / "annotations").mkdir()
    assert samples_workspace(base=tmp_path) == dest
    assert (dest / "coffee.jpg").read_bytes() == b"user's own"
    assert (dest / "rocket.jpg").is_file() and (dest / "annotations").is_dir()


def test_data_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IFCN_DATA_DIR", str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d"
    monkeypatch.delenv("IFCN_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert data_dir() == tmp_path / "x" / "ifcn-annotator"


def test_annotate_samples_opens_the_copy(tmp_path, monkeypatch):
    import argparse

    from annotator import app

    monkeypatch.setenv("IFCN_DATA_DIR", str(tmp_path))
    seen = {}
    monkeypatch.setattr(app, "_run_window", lambda a, w, folder, *rest: seen.setdefault("folder", folder) and 0)
    parser = argparse.ArgumentParser()
    app.add_arguments(parser)
    args = parser.parse_args(["--samples", "--settings", str(tmp_path / "s.ini")])
    app.run(args)
    assert seen["folder"] == tmp_path / "samples" and (tmp_path / "samples" / "astronaut.jpg").is_file()
