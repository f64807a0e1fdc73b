"""No clipped text in the Retrain and Benchmark dialogs at their default size (issue 17): every label,
button, choice, spin box and placeholder fits the room its widget got, measured with QFontMetrics."""
from __future__ import annotations

import pytest
from PyQt5.QtCore import QSize
from PyQt5.QtWidgets import (QAbstractButton, QAbstractSpinBox, QCheckBox, QComboBox, QLabel, QLineEdit,
                             QPushButton, QRadioButton, QStyle, QStyleOptionButton, QStyleOptionComboBox,
                             QWidget)

from annotator import noc_dialog, training_dialog
from annotator.widgets.process_panes import fit_to_screen
from tests.annotator.test_training_dialog import write_annotated_folder


def _advance(w: QWidget, text: str) -> int:
    fm = w.fontMetrics()
    return max(fm.horizontalAdvance(line) for line in text.replace("&", "").split("\n"))


def clipped(dlg: QWidget) -> list[str]:
    """'widget: text' for every visible text of `dlg` that does not fit its widget."""
    bad = []
    for w in dlg.findChildren(QWidget):
        if not w.isVisibleTo(dlg) or w.width() <= 1:
            continue
        inner = isinstance(w.parent(), (QAbstractSpinBox, QComboBox))  # a spin box's own line edit
        if isinstance(w, (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit)) and not inner and \
                w.height() < w.minimumSizeHint().height():
            bad.append(f"squeezed: {type(w).__name__} {w.text() if hasattr(w, 'text') else ''!r} is "
                       f"{w.height()} px high, needs {w.minimumSizeHint().height()}")
        if isinstance(w, QLabel) and w.text():
            room = w.contentsRect().width()
            if w.wordWrap():
                if w.height() < w.heightForWidth(w.width()):
                    bad.append(f"wrapped label cut at the bottom: {w.text()!r}")
            elif _advance(w, w.text()) > room:
                bad.append(f"label: {w.text()!r} needs {_advance(w, w.text())} px, has {room}")
        elif isinstance(w, QAbstractButton) and w.text():
            need = _advance(w, w.text())
            if isinstance(w, (QCheckBox, QRadioButton)):
                need += w.style().pixelMetric(QStyle.PM_IndicatorWidth) + \
                    w.style().pixelMetric(QStyle.PM_CheckBoxLabelSpacing)
            elif isinstance(w, QPushButton):  # the style's frame and margins around the text
                opt = QStyleOptionButton()
                w.initStyleOption(opt)
                need = w.style().sizeFromContents(QStyle.CT_PushButton, opt,
                                                  QSize(need, w.fontMetrics().height()), w).width()
            if need > w.width():
                bad.append(f"button: {w.text()!r} needs {need} px, has {w.width()}")
        elif isinstance(w, QComboBox):
            opt = QStyleOptionComboBox()
            w.initStyleOption(opt)
            room = w.style().subControlRect(QStyle.CC_ComboBox, opt, QStyle.SC_ComboBoxEditField, w).width()
            for i in range(w.count()):
                if _advance(w, w.itemText(i)) > room:
                    bad.append(f"choice: {w.itemText(i)!r} needs {_advance(w, w.itemText(i))} px, has {room}")
        elif isinstance(w, QAbstractSpinBox):
            edit = w.findChild(QLineEdit)
            if _advance(w, w.text()) > edit.width() - 4:
                bad.append(f"spin box: {w.text()!r} needs {_advance(w, w.text())} px, has {edit.width() - 4}")
        elif isinstance(w, QLineEdit) and w.placeholderText() and not w.text():
            if _advance(w, w.placeholderText()) > w.width() - 8:
                bad.append(f"placeholder: {w.placeholderText()!r} needs {_advance(w, w.placeholderText())} px, "
                           f"has {w.width() - 8}")
    return bad


@pytest.fixture
def tools(make_window, FakePredictor, tmp_path):
    from annotator.training_menu import install_training_tools

    fake = FakePredictor()
    w = make_window(write_annotated_folder(tmp_path / "photos", n=3), predictor=fake)
    yield w, install_training_tools(w)


LAPTOP = QSize(1366, 728)  # a 1366x768 screen less its panel: the smallest common one


def _shown(qtbot, dlg, size):
    """`dlg` at the size it takes on a LAPTOP screen (the offscreen test screen is only 800x600)."""
    fit_to_screen(dlg, *size, available=LAPTOP)
    qtbot.waitExposed(dlg)
    dlg.layout().activate()
    qtbot.wait(20)
    size, least = dlg.size(), dlg.minimumSizeHint()
    assert size.width() >= least.width() and size.height() >= least.height(), (size, least)
    return dlg


def test_retrain_dialog_has_no_clipped_text(tools, qtbot):
    w, t = tools
    dlg = _shown(qtbot, t.show_training(), training_dialog.DEFAULT_SIZE)
    assert dlg.start_reason.text()  # the longest state: Start disabled with its reason shown
    assert clipped(dlg) == []
    dlg.form.val_every.setValue(0)  # "each epoch"
    assert clipped(dlg) == []


def test_benchmark_dialog_has_no_clipped_text(tools, qtbot):
    w, t = tools
    dlg = _shown(qtbot, t.show_noc(), noc_dialog.DEFAULT_SIZE)
    assert clipped(dlg) == []
    dlg.trained_label.setText("⚠ " + "a model was trained on these images " * 6)
    dlg.trained_label.setVisible(True)
    dlg.layout().activate()
    qtbot.wait(50)
    assert clipped(dlg) == []
    least = dlg.minimumSizeHint()
    assert dlg.width() >= least.width() and dlg.height() >= least.height()
