"""The annotator's actions and their shortcuts: one table feeds the menus, toolbar and the help window."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PyQt5.QtGui import QIcon, QKeySequence
from PyQt5.QtWidgets import QAction, QStyle, QWidget

from annotator.settings import RESOURCES

ICONS = RESOURCES / "icons"


@dataclass(frozen=True)
class ActionSpec:
    """Name, label, shortcuts, tooltip and icon of one action."""

    name: str
    text: str
    keys: tuple[str, ...] = ()
    tip: str = ""
    icon: str = ""          # file in resources/icons or a QStyle standard pixmap name ("SP_...")
    checkable: bool = False


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("open_folder", "&Open Folder…", ("Ctrl+O",), "Open a folder of images", "SP_DirOpenIcon"),
    ActionSpec("open_image", "Open &Image…", ("Ctrl+Shift+O",), "Open one image (and its folder)",
               "SP_FileIcon"),
    ActionSpec("change_output", "Change Output &Folder…", (), "Choose where masks are written",
               "SP_DirLinkIcon"),
    ActionSpec("export", "&Export…", (), "Export the annotations as COCO, labelme or YOLO-seg"),
    ActionSpec("import_annotations", "&Import labelme / COCO…", (),
               "Import labelme or COCO annotations as finished objects of these images"),
    ActionSpec("save", "&Save", ("Ctrl+S",), "Save the masks of this image", "SP_DialogSaveButton"),
    ActionSpec("autosave", "&Autosave", (), "Save on image switch, close and after each finished object",
               checkable=True),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "Quit the annotator"),
    ActionSpec("prev_image", "&Previous Image", ("A", "PgUp"), "Go to the previous image", "SP_ArrowBack"),
    ActionSpec("next_image", "&Next Image", ("D", "PgDown"), "Go to the next image", "SP_ArrowForward"),
    ActionSpec("undo", "&Undo", ("Ctrl+Z",), "Undo the last edit", "undo.svg"),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the undone edit", "redo.svg"),
    ActionSpec("finish", "&Finish Object", ("Space", "Return", "Enter"),
               "Add the current object to the object list and start a new one", "finish.svg"),
    ActionSpec("clear", "&Clear Clicks", ("Esc",), "Clear the current object's clicks and brush edits",
               "clear.svg"),
    ActionSpec("delete_object", "&Delete Object", ("Del",), "Delete the selected object"),
    ActionSpec("edit_object", "&Edit Object", ("Ctrl+E",), "Make the selected object the current one again"),
    ActionSpec("copy_previous", "Copy Objects from &Previous Image", ("Ctrl+Shift+V",),
               "Add the finished objects of the image before this one in the list (video frames; Ctrl+Z undoes)"),
    ActionSpec("protect_finished", "&Protect Finished Objects", (),
               "A new object's mask leaves the pixels of finished objects alone (its overlap with them is "
               "hatched); off: finishing it takes them", checkable=True),
    ActionSpec("tool_click", "&Click Tool", ("C",), "Left click: positive, right click: negative",
               "click.svg", True),
    ActionSpec("tool_brush", "&Brush", ("B",), "Paint the current object's mask by hand", "brush.svg", True),
    ActionSpec("tool_eraser", "&Eraser", ("E",), "Erase from the current object's mask", "eraser.svg", True),
    ActionSpec("tool_void", "&Void Brush", ("V",), "Paint VOC's void (255: ignored in training and scoring) "
               "with left drag, erase it with right drag", "void.svg", True),
    ActionSpec("brush_smaller", "Brush S&maller", ("[",), "Make the brush smaller"),
    ActionSpec("brush_larger", "Brush &Larger", ("]",), "Make the brush larger"),
    ActionSpec("refine", "&Refine with Colours", ("G",),
               "Refine the model's mask with the photo's colours: parts of the object's colour are pulled in, "
               "parts of the background's pushed out, the edge follows the photo (Model → Refine with GrabCut "
               "for GrabCut instead)", "refine.svg", True),
    ActionSpec("show_clicks", "Show C&licks", ("H",), "Show or hide the click markers", checkable=True),
    ActionSpec("fit", "&Fit Window", ("F", "Ctrl+0"), "Fit the image in the window", "fit.svg"),
    ActionSpec("actual_size", "&Actual Size (1:1)", ("Ctrl+1",), "One image pixel per screen pixel",
               "actual_size.svg"),
    ActionSpec("zoom_in", "Zoom &In", ("Ctrl++", "Ctrl+="), "Zoom in"),
    ActionSpec("zoom_out", "Zoom &Out", ("Ctrl+-",), "Zoom out"),
    ActionSpec("load_checkpoint", "&Load Checkpoint…", (), "Use another model checkpoint"),
    ActionSpec("default_model", "Use &Default Model", (), "Go back to the shipped default model"),
    ActionSpec("max_size", "&Maximum Inference Size…", (),
               "Longest side of the working copy of a large photo: masks are made at this size (the network itself "
               "sees at most 512 px of the whole image, and zoomed-in crops of the photo)"),
    ActionSpec("focus_zoom", "&Zoom In on the Object", (),
               "From the second click on, run the model on an enlarged crop around the object "
               "(finer masks, small objects found)", checkable=True),
    ActionSpec("enforce_clicks", "&Enforce Clicks (f-BRS)", (),
               "When the model ignores a click, adjust it until every clicked pixel gets the label "
               "you gave it (f-BRS)", checkable=True),
    ActionSpec("snap_edges", "&Snap to Edges", (),
               "Move the mask's boundary onto the photo's nearby edges (guided filter of the model's "
               "prediction)", checkable=True),
    ActionSpec("learned_refiner", "Snap with the &Learned Refiner", (),
               "Snap to Edges runs the model's learned refiner (a small network trained on real photos) "
               "instead of the guided filter; only for models that carry one", checkable=True),
    ActionSpec("refine_grabcut", "Refine with &GrabCut (Slower)", (),
               "Refinement (key G) runs OpenCV's GrabCut on a crop around the object instead of the fast "
               "colour refinement: about as accurate, 20-40x slower", checkable=True),
    ActionSpec("model_info", "Model &Info", (), "Show the current model"),
    ActionSpec("shortcuts", "&Keyboard Shortcuts", ("F1",), "List the keyboard shortcuts"),
    ActionSpec("about", "&About", (), "About this program"),
)

#: Mouse and other gestures listed in the help window after the actions.
GESTURES: tuple[tuple[str, str], ...] = (
    ("Left click", "Positive click (on the object)"),
    ("Right click", "Negative click (not the object)"),
    ("Mouse wheel", "Zoom around the cursor"),
    ("Middle drag / Ctrl+left drag", "Pan"),
    ("1 – 9", "Pick the class of that row in the class list"),
    ("Left drag (brush / eraser)", "Paint / erase the current object's mask"),
    ("Left / right drag (void brush)", "Paint / erase the void (ignore) region"),
)


def _icon(widget: QWidget, name: str) -> QIcon:
    if not name:
        return QIcon()
    if name.startswith("SP_"):
        return widget.style().standardIcon(getattr(QStyle, name))
    return QIcon(str(ICONS / name))


def build_actions(parent: QWidget, slots: dict[str, Callable]) -> dict[str, QAction]:
    """Create every action of SPECS on `parent`, connected to `slots[name]` when present."""
    out = {}
    for s in SPECS:
        a = QAction(_icon(parent, s.icon), s.text, parent)
        a.setObjectName(s.name)
        if s.keys:
            a.setShortcuts([QKeySequence(k) for k in s.keys])
        tip = s.tip + (f" ({', '.join(s.keys)})" if s.keys else "")
        a.setToolTip(tip)
        a.setStatusTip(s.tip)
        a.setCheckable(s.checkable)
        if s.name in slots:
            if s.checkable:
                a.toggled.connect(slots[s.name])
            else:
                a.triggered.connect(lambda _=False, f=slots[s.name]: f())
        parent.addAction(a)
        out[s.name] = a
    return out


def spec_text(name: str) -> str:
    """The menu text of action `name` as SPECS gives it."""
    return next(s.text for s in SPECS if s.name == name)


def shortcut_rows() -> list[tuple[str, str]]:
    """(keys, description) rows for Help → Keyboard Shortcuts."""
    rows = [(" / ".join(s.keys), s.text.replace("&", "").rstrip("…")) for s in SPECS if s.keys]
    return rows + list(GESTURES)
