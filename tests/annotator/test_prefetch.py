"""The next image decoded ahead and the last one kept (annotator.prefetch), alone and in the window."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from PIL import Image

from annotator.prefetch import Prefetcher, file_stamp
from models.errors import ImageReadError
from models.fileio import read_image


class Counting:
    """read_image, counting calls per file; `gate` holds reads until set."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, path):
        self.gate.wait(10)
        self.calls[path.name] = self.calls.get(path.name, 0) + 1
        return read_image(path)


def _png(path, seed: int, size=(40, 30)):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_a_requested_image_is_read_once_and_handed_out_again_for_a_switch_back(tmp_path):
    a = _png(tmp_path / "a.png", 1)
    reader = Counting()
    pre = Prefetcher(reader)
    pre.request(a)
    got = pre.take(a)
    assert np.array_equal(got, read_image(a))
    assert np.array_equal(pre.take(a), got) and reader.calls == {"a.png": 1}
    pre.request(a)  # already there: not read again
    assert pre.take(a) is not None and reader.calls == {"a.png": 1} and pre.hits == 3
    pre.shutdown()


def test_take_waits_for_a_decode_under_way(tmp_path):
    a = _png(tmp_path / "a.png", 1)
    reader = Counting()
    reader.gate.clear()
    pre = Prefetcher(reader)
    pre.request(a)
    threading.Timer(0.2, reader.gate.set).start()
    assert np.array_equal(pre.take(a), read_image(a)) and reader.calls == {"a.png": 1}
    pre.shutdown()


def test_a_file_changed_on_disk_is_not_handed_out(tmp_path):
    a = _png(tmp_path / "a.png", 1)
    pre = Prefetcher(read_image)
    pre.request(a)
    assert pre.take(a) is not None
    _png(a, 2, size=(41, 30))  # another image under the same name
    os.utime(a, ns=(1, 1))
    assert pre.take(a) is None, "the window reads the new file itself"
    b = _png(tmp_path / "b.png", 3)
    pre.keep(b, read_image(b), file_stamp(b))
    b.unlink()
    assert pre.take(b) is None
    pre.shutdown()


def test_an_unreadable_file_hands_out_nothing_so_the_window_reports_it(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    pre = Prefetcher(read_image)
    pre.request(bad)
    assert pre.take(bad) is None
    with pytest.raises(ImageReadError):
        read_image(bad)
    pre.request(tmp_path / "missing.png")  # no file: nothing to do
    assert pre.take(tmp_path / "missing.png") is None
    pre.shutdown()


def test_two_entries_and_no_huge_image_are_kept(tmp_path):
    paths = [_png(tmp_path / f"{i}.png", i) for i in range(3)]
    pre = Prefetcher(read_image)
    for p in paths:
        pre.request(p)
    assert pre.take(paths[0]) is None and pre.take(paths[1]) is not None and pre.take(paths[2]) is not None
    small = Prefetcher(read_image, max_bytes=40 * 30 * 3 - 1)
    small.keep(paths[0], read_image(paths[0]), file_stamp(paths[0]))
    small.request(paths[1])
    assert small.take(paths[0]) is None and small.take(paths[1]) is None
    pre.shutdown()
    small.shutdown()
    assert pre.take(paths[1]) is None


def test_the_window_opens_the_next_image_and_the_one_before_without_reading_them(make_window, image_folder,
                                                                                   qtbot, monkeypatch):
    import annotator.navigation as nav

    w = make_window(image_folder)
    own = Counting()
    monkeypatch.setattr(nav, "read_image", own)  # what the window reads itself
    ahead = Counting()
    w.prefetch.shutdown()
    w.prefetch = Prefetcher(ahead)
    assert w.go_to(1)  # nothing decoded ahead yet (the prefetcher was replaced): read by the window
    assert own.calls == {"img1.png": 1}
    assert w.go_to(2) and own.calls == {"img1.png": 1} and ahead.calls == {"img2.png": 1}
    assert np.array_equal(w.image, read_image(image_folder / "img2.png"))
    assert w.go_to(1) and own.calls == {"img1.png": 1}, "the image just left is kept"
    assert w.go_to(0) and ahead.calls.get("img0.png") == 1, "going back, the image before is decoded ahead"
    assert own.calls == {"img1.png": 1}


def test_a_corrupt_next_image_is_still_reported_and_skipped(make_window, image_folder, fake_dialogs):
    (image_folder / "img1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    w = make_window(image_folder)
    assert w.go_to(1) and w.index == 2
    kind, title, text = fake_dialogs.messages[-1]
    assert title == "Cannot read image" and "img1.png" in text


def test_an_image_edited_on_disk_while_shown_is_read_again_when_going_back(make_window, image_folder):
    """The kept copy of the image left carries the stamp from before it was read, not from when it was left."""
    w = make_window(image_folder)
    assert w.current_image_path.name == "img0.png"
    new = _png(image_folder / "img0.png", 7, size=(120, 90))  # edited in another program while shown here
    os.utime(new, ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))
    assert w.go_to(1) and w.go_to(0)
    assert np.array_equal(w.image, read_image(new)), "the edited file, not the copy decoded before the edit"
