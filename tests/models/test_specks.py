"""models.regions.remove_specks: small stray parts and pinholes of a mask, relative to the object's size."""
import numpy as np

from models.clicks import Click
from models.regions import remove_specks


def _disc(shape=(120, 160), cx=80, cy=60, r=30):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_small_islands_and_pinholes_go_the_object_stays():
    m = _disc()  # ~2,800 px: specks are under 14 px
    m[5:8, 5:8] = True  # a 9-px island
    m[60:62, 70:72] = False  # a 4-px hole
    out = remove_specks(m, [Click(80, 60, True)])
    assert not out[5:8, 5:8].any()
    assert out[60:62, 70:72].all()
    assert (out == _disc()).all()
    assert m[5:8, 5:8].all() and not m[60:62, 70:72].any()  # the input is not changed


def test_a_clicked_speck_and_a_hole_with_a_negative_click_are_kept():
    m = _disc()
    m[5:8, 5:8] = True
    m[60:62, 70:72] = False
    out = remove_specks(m, [Click(80, 60, True), Click(6, 6, True), Click(70.4, 60.6, False)])
    assert out[5:8, 5:8].all()
    assert not out[60:62, 70:72].any()


def test_big_parts_and_big_holes_are_kept():
    m = _disc(r=40)  # ~5,000 px: 25 px is the speck limit
    m[50:60, 75:85] = False  # a 100-px hole (a ring's middle): real
    m[2:12, 2:12] = True  # a 100-px second part: real
    out = remove_specks(m, [Click(80, 30, True)])
    assert (out == m).all()


def test_background_reaching_the_border_is_not_a_hole():
    m = np.ones((50, 50), bool)
    m[0:2, 20:22] = False  # a notch at the top edge, 4 px
    out = remove_specks(m, [Click(25, 25, True)])
    assert not out[0:2, 20:22].any()


def test_a_small_object_keeps_its_detail_and_an_empty_mask_stays_empty():
    m = np.zeros((60, 60), bool)
    m[20:30, 20:30] = True  # 100 px: the limit is the 4-px minimum
    m[24, 24] = False  # a 1-px hole
    m[40:42, 40:42] = True  # a 4-px part is not under the limit
    out = remove_specks(m, [Click(22, 22, True)])
    assert out[24, 24] and out[40:42, 40:42].all()
    assert not remove_specks(np.zeros((10, 10), bool), []).any()


def test_clicks_outside_the_image_are_ignored():
    m = _disc()
    m[5:8, 5:8] = True
    out = remove_specks(m, [Click(-5, 400, True), Click(80, 60, True)])
    assert not out[5:8, 5:8].any()


def _reference(m, clicks, fraction=0.005, min_px=4):
    """remove_specks over the whole image, without the bounding-box shortcut."""
    import cv2
    out, (h, w) = m.copy(), m.shape
    limit = max(min_px, int(m.sum() * fraction))
    for value, connectivity in ((True, 8), (False, 4)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats((m == value).astype(np.uint8), connectivity=connectivity)
        small = stats[:, cv2.CC_STAT_AREA] < limit
        small[0] = False
        if value and n > 1 and small[1:].all():
            small[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = False
        if not value:
            x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
            small &= (x0 > 0) & (y0 > 0) & (x0 + stats[:, cv2.CC_STAT_WIDTH] < w) & (y0 + stats[:, cv2.CC_STAT_HEIGHT] < h)
        for c in clicks:
            x, y = c.pixel()
            if c.positive == value and 0 <= x < w and 0 <= y < h:
                small[labels[y, x]] = False
        out[small[labels]] = not value
    return out


def test_the_bounding_box_shortcut_gives_the_whole_image_answer():
    import cv2
    rng = np.random.default_rng(3)
    for i in range(60):
        h, w = rng.integers(20, 90, size=2)
        noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), float(rng.uniform(0.5, 3)))
        m = noise > np.quantile(noise, rng.uniform(0.3, 0.95))
        if i % 3 == 0:  # an object touching the border, or the whole image
            m[:, :2] = True
        clicks = [Click(float(rng.uniform(0, w - 1)), float(rng.uniform(0, h - 1)), bool(rng.random() < 0.6))
                  for _ in range(int(rng.integers(0, 4)))]
        np.testing.assert_array_equal(remove_specks(m, clicks), _reference(m, clicks), err_msg=f"case {i}")
