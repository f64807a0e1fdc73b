"""Issue 17 papercut: finished objects get an outline, and class colours stay visible on skin and orange."""
import numpy as np
from PIL import Image

from annotator.contrast import MIN_SHOWN_DELTA_E, blend, delta_e, object_colors, outline_color, readable_color
from tests.window_factory import click

SKIN, ORANGE, DARK = (224, 172, 140), (240, 140, 30), (35, 35, 40)
PERSON, COW = (192, 128, 128), (192, 128, 0)  # VOC colours: too close to skin / orange as they are


def test_colours_close_to_the_image_are_adjusted_others_kept():
    for color, bg in ((PERSON, SKIN), (COW, ORANGE), ((128, 128, 128), (128, 128, 128))):
        assert delta_e(blend(color, bg, 0.5), bg) < MIN_SHOWN_DELTA_E  # as drawn before: barely visible
        shown = readable_color(color, bg, 0.5)
        assert delta_e(blend(shown, bg, 0.5), bg) >= MIN_SHOWN_DELTA_E
        assert delta_e(shown, color) < 70, "still recognisably the class colour"
    assert readable_color(PERSON, DARK, 0.5) == PERSON  # enough contrast already: unchanged
    assert outline_color(SKIN) == (0, 0, 0) and outline_color(ORANGE) == (0, 0, 0)
    assert outline_color(DARK) == (255, 255, 255)


def test_each_object_is_judged_against_its_own_image_region():
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20], img[:, 20:] = SKIN, DARK
    labels = np.zeros((20, 40), np.uint8)
    labels[5:15, 5:15], labels[5:15, 25:35] = 1, 2
    colors = np.zeros((256, 3), np.uint8)
    colors[1] = colors[2] = PERSON
    fill, outline = object_colors(labels, colors, img, opacity=0.5)
    assert tuple(fill[1]) != PERSON and tuple(fill[2]) == PERSON
    assert tuple(outline[1]) == (0, 0, 0) and tuple(outline[2]) == (255, 255, 255)


def _screen(w, x, y):
    """RGB on screen at image pixel (x, y)."""
    shot = w.canvas.viewport().grab().toImage()
    p = w.canvas.view_pos_of(x, y)
    c = shot.pixelColor(p.x(), p.y())
    return (c.red(), c.green(), c.blue())


def test_finished_object_on_skin_is_outlined_and_visible(make_window, tmp_path, qtbot):
    d = tmp_path / "skin"
    d.mkdir()
    rng = np.random.default_rng(0)
    a = np.clip(np.array(SKIN) + rng.integers(-6, 7, (90, 120, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(d / "face.png")
    w = make_window(d)
    person = w.classes.add("face", PERSON)
    w.set_class(person.index)
    click(qtbot, w, 60, 45)
    w.wait_for_inference()
    assert w.finish_object()
    qtbot.wait(50)
    inside, outside = _screen(w, 60, 45), _screen(w, 10, 10)
    # the old overlay (the class colour at the same opacity) would differ from the skin by this much
    op = w.settings.opacity
    old = tuple(int(round(op * p + (1 - op) * s)) for p, s in zip(PERSON, SKIN))
    assert delta_e(old, SKIN) < 12
    assert delta_e(inside, outside) > 18, (inside, outside)
    # the outline: along the row through the object, a near-black ring at its border (radius 12 disc)
    row = [_screen(w, x, 45) for x in range(40, 61)]
    darkest = min(row, key=sum)
    assert sum(darkest) < 3 * 60 and delta_e(darkest, SKIN) > 50, row
