"""File → Open Recent: the folders opened last, newest first, kept across restarts."""
import json

from annotator.recent import MAX_RECENT, recent_folders, with_folder
from annotator.settings import load_settings
from tests.annotator.conftest import write_image


def _labels(w):
    w.recent_menu.aboutToShow.emit()
    return [(a.text(), a.isEnabled()) for a in w.recent_menu.actions() if not a.isSeparator()]


def test_the_list_is_newest_first_once_each_and_capped(tmp_path):
    stored = ""
    for i in range(MAX_RECENT + 3):
        stored = with_folder(stored, tmp_path / f"f{i}")
    stored = with_folder(stored, tmp_path / "f5" / ".." / "f5")  # the same folder spelt another way
    got = recent_folders(stored)
    assert len(got) == MAX_RECENT and got[0] == str(tmp_path / "f5") and got.count(str(tmp_path / "f5")) == 1
    assert got[1] == str(tmp_path / f"f{MAX_RECENT + 2}")
    for bad in ("not json", json.dumps({"a": 1}), json.dumps([3, None, "", "/x"])):  # a hostile stored value
        assert recent_folders(bad) in ([], ["/x"])


def test_open_recent_lists_opened_folders_and_reopens_one(make_window, image_folder, tmp_path):
    other = tmp_path / "other & more"
    other.mkdir()
    write_image(other / "a.png", seed=5)
    w = make_window(image_folder)
    w.open_folder(other)
    labels = _labels(w)
    assert labels[0] == (f"&1  {str(other).replace('&', '&&')}", True)  # a '&' in the path is no mnemonic
    assert labels[1] == (f"&2  {image_folder}", True) and labels[-1] == ("Clear Recent Folders", True)
    next(a for a in w.recent_menu.actions() if str(image_folder) in a.text()).trigger()
    assert w.folder == image_folder and recent_folders(w.settings.recent_folders)[0] == str(image_folder)
    again = load_settings(w.store)  # what the next start reads
    assert recent_folders(again.recent_folders)[:2] == [str(image_folder), str(other)]


def test_a_vanished_folder_is_shown_greyed_and_the_list_can_be_cleared(make_window, image_folder, tmp_path):
    gone = tmp_path / "gone"
    w = make_window(image_folder)
    w._update_settings(recent_folders=with_folder(w.settings.recent_folders, gone))
    labels = dict(_labels(w))
    assert labels[f"&1  {gone} (not found)"] is False
    next(a for a in w.recent_menu.actions() if a.text() == "Clear Recent Folders").trigger()
    assert _labels(w) == [("No recent folders", False), ("Clear Recent Folders", False)]
    assert load_settings(w.store).recent_folders == ""
