"""Settings: shipped defaults, persisted with QSettings, bad values fall back."""
import json

from PyQt5.QtCore import QSettings

from annotator.settings import DEFAULTS_FILE, Settings, default_settings, load_settings, save_settings


def test_shipped_defaults_file_is_read(tmp_path):
    shipped = json.loads(DEFAULTS_FILE.read_text())
    d = default_settings()
    assert d.threshold == shipped["threshold"] == 0.5 and d.autosave is shipped["autosave"]
    f = tmp_path / "d.json"
    f.write_text(json.dumps({"opacity": 0.25, "max_size": "oops", "unknown": 1}))
    d2 = default_settings(f)
    assert d2.opacity == 0.25 and d2.max_size == Settings().max_size
    f.write_text("{broken")
    assert default_settings(f) == Settings()


def test_settings_round_trip_through_qsettings(tmp_path):
    store = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    s = Settings().updated(opacity=0.7, refine=True, autosave=False, device="cpu", last_folder="/x")
    save_settings(store, s)
    again = load_settings(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    assert again == s


def test_out_of_range_values_are_clamped(tmp_path):
    store = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    store.setValue("settings/threshold", 7)
    store.setValue("settings/device", "tpu")
    store.setValue("settings/autosave", "nonsense")
    s = load_settings(store, Settings())
    assert s.threshold == 0.99 and s.device == "auto" and s.autosave is True


def test_refine_method_is_the_models_and_unknown_values_fall_back():
    """The settings' refinement methods are models.colour_refine's (kept apart so settings never import the
    models); colour by default and shipped so; an unknown stored value falls back to colour."""
    from annotator.settings import REFINE_METHODS
    from models import colour_refine

    assert REFINE_METHODS == colour_refine.REFINE_METHODS == tuple(colour_refine.REFINE_LABELS)
    assert Settings().refine_method == "colour" == default_settings().refine_method
    assert Settings().updated(refine_method="grabcut").refine_method == "grabcut"
    assert Settings().updated(refine_method="magic").refine_method == "colour"


def test_a_store_from_before_zoom_in_was_on_gets_the_new_default_and_a_choice_after_it_stays(tmp_path):
    """Zoom-in's default changed from off to on (settings version 2): a store written before that still holding
    off (the old default) loads on; once saved by this version, off is the user's choice and stays."""
    old = QSettings(str(tmp_path / "old.ini"), QSettings.IniFormat)
    old.setValue("settings/zoom_in", False)  # as an earlier version saved every value, without a version
    old.setValue("settings/opacity", 0.3)
    old.sync()
    s = load_settings(QSettings(str(tmp_path / "old.ini"), QSettings.IniFormat), Settings())
    assert s.zoom_in is True and s.opacity == 0.3  # the other values are the user's own
    chosen = QSettings(str(tmp_path / "new.ini"), QSettings.IniFormat)
    save_settings(chosen, Settings().updated(zoom_in=False))
    again = load_settings(QSettings(str(tmp_path / "new.ini"), QSettings.IniFormat), Settings())
    assert again.zoom_in is False
    bad = QSettings(str(tmp_path / "bad.ini"), QSettings.IniFormat)
    bad.setValue("settings/version", "not a number")
    bad.setValue("settings/zoom_in", "false")
    bad.sync()
    assert load_settings(QSettings(str(tmp_path / "bad.ini"), QSettings.IniFormat), Settings()).zoom_in is True


def test_a_store_from_before_the_working_size_grew_gets_1024_and_another_size_stays(tmp_path):
    """The working size's default went from 512 to 1024 px (settings version 3): 512 saved by version 2 loads as
    1024; a size the user chose (768), or 512 saved by this version, stays."""
    def store(name, max_size, version):
        q = QSettings(str(tmp_path / name), QSettings.IniFormat)
        q.setValue("settings/max_size", max_size)
        q.setValue("settings/zoom_in", False)
        q.setValue("settings/version", version)
        q.sync()
        return load_settings(QSettings(str(tmp_path / name), QSettings.IniFormat), Settings())
    assert Settings().max_size == 1024 == default_settings().max_size
    v2 = store("v2.ini", 512, 2)
    assert v2.max_size == 1024 and v2.zoom_in is False  # zoom-in off was chosen under version 2: it stays
    assert store("chosen.ini", 768, 2).max_size == 768
    assert store("v3.ini", 512, 3).max_size == 512
