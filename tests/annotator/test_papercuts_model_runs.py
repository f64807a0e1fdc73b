"""Issue 17 papercuts: Model → Use Default Model, Load Checkpoint… opens in the runs folder, training runs
and NoC results go to the user's data folder, never into the image folder."""
from pathlib import Path

from annotator import data_folders
from annotator.actions import SPECS


def test_shortcuts_are_unique():
    keys = [k for s in SPECS for k in s.keys]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_use_default_model_loads_the_shipped_model(make_window, image_folder, fake_dialogs, monkeypatch,
                                                   FakePredictor):
    import models.predictor as mp

    asked = []

    def fake_load(checkpoint=None, **kw):
        asked.append(checkpoint)
        p = FakePredictor(name="default" if checkpoint is None else "other")
        p.checkpoint_path = checkpoint
        return p
    monkeypatch.setattr(mp.Predictor, "load", staticmethod(fake_load))
    w = make_window(image_folder)
    w.load_checkpoint("/some/run/best.pt")
    assert w.predictor.name == "other"
    act = w.actions_by_name["default_model"]
    assert act in w.model_menu.actions()
    act.trigger()
    assert asked[-1] is None and w.predictor.name == "default"
    assert "default model" in w.statusBar().currentMessage()


def test_load_checkpoint_dialog_opens_in_the_folders_runs(make_window, image_folder, fake_dialogs, monkeypatch,
                                                          private_data_dir):
    from annotator.widgets import dialogs

    starts = []
    monkeypatch.setattr(dialogs, "choose_file", lambda parent, title, start="", filters="": starts.append(start))
    w = make_window(image_folder)
    w.actions_by_name["load_checkpoint"].trigger()
    assert starts[-1] == ""  # no run yet anywhere
    runs = data_folders.runs_root(w.output_dir)
    (runs / "run-1").mkdir(parents=True)
    w.actions_by_name["load_checkpoint"].trigger()
    assert Path(starts[-1]) == runs and runs.is_relative_to(private_data_dir)


def test_training_runs_and_noc_results_default_outside_the_image_folder(make_window, image_folder,
                                                                       private_data_dir):
    from annotator.training_menu import install_training_tools

    w = make_window(image_folder)
    tools = install_training_tools(w)
    train = tools.show_training()
    noc = tools.show_noc()
    try:
        for p in (Path(train.form.runs_edit.text()), Path(noc.out_edit.text())):
            assert p.is_relative_to(private_data_dir), p
            assert not p.is_relative_to(image_folder) and not p.is_relative_to(w.output_dir)
        assert Path(train.form.runs_edit.text()) == data_folders.runs_root(w.output_dir)
        assert image_folder.name in Path(train.form.runs_edit.text()).name
    finally:
        train.close()
        noc.close()


def test_runs_roots_differ_for_same_named_folders_and_old_runs_are_found(tmp_path, private_data_dir):
    a, b = tmp_path / "x" / "images", tmp_path / "y" / "images"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    assert data_folders.runs_root(a) != data_folders.runs_root(b)
    assert data_folders.noc_results_root(a).parent == private_data_dir / "noc-results"
    old = a / "training-runs" / "run-20240101-000000" / "devkit"
    old.mkdir(parents=True)
    new = data_folders.runs_root(a) / "run-20250101-000000" / "devkit"
    new.mkdir(parents=True)
    import os
    os.utime(old.parent, (1_700_000_000, 1_700_000_000))
    assert data_folders.run_dirs(a) == [old.parent, new.parent]
