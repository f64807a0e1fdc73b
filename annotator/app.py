"""`ifcn annotate [FOLDER]`: start the annotator window."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PyQt5.QtCore import QSettings, QTimer
from PyQt5.QtWidgets import QApplication

from annotator import crash_report, model_actions, stop_signals
from annotator.settings import (APPLICATION, ORGANIZATION, Settings, default_settings, load_settings,
                                open_qsettings)
from annotator.training_menu import install_training_tools
from annotator.window import APP_NAME, MainWindow
from models.errors import IFCNError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `annotate` subcommand."""
    parser.add_argument("folder", nargs="?", help="folder of images (or one image) to annotate")
    parser.add_argument("--samples", action="store_true",
                        help="annotate a copy of the bundled sample photos in the user's data folder "
                             "(~/.local/share/ifcn-annotator/samples; what `make run` opens)")
    parser.add_argument("--output", help="where SegmentationClass/, SegmentationObject/ and annotations/ "
                                         "go (default: the folder, or its parent for a VOC JPEGImages/)")
    parser.add_argument("--labels", help="class list (labelme's labels.txt: one name a line, __ignore__ and "
                                         "_background_ lines honoured; or a classes.json): the classes of a "
                                         "folder without a class list, added to one that has one; stored "
                                         "with the output folder (OUT/classes.json)")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the shipped model, else GrabCut)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), help="device for the model")
    parser.add_argument("--max-size", type=int,
                        help="longest side of the working copy masks are made at (default 1024)")
    parser.add_argument("--settings", help="keep settings in this INI file instead of the user's settings")
    parser.add_argument("--screenshot", help=argparse.SUPPRESS)   # save a picture of the window, then quit
    parser.add_argument("--quit-after", type=int, help=argparse.SUPPRESS)  # milliseconds, for smoke tests


def _preload_model_code() -> None:
    """Import torch & co. before Qt opens the display.

    Loading triton's LLVM after Qt's xcb plugin has pulled in Mesa's LLVM crashes the process
    (segmentation fault), so the model code must be imported first.
    """
    try:
        import models.predictor  # noqa: F401
    except ImportError:
        pass


def _load_predictor(window: MainWindow, checkpoint: str | None) -> None:
    if checkpoint is not None:
        window.load_checkpoint(checkpoint)
        if window.predictor is not None:
            return
    window.load_checkpoint(None)


def run(args: argparse.Namespace) -> int:
    """Open the window on `args.folder` and run the event loop; returns the exit code."""
    if getattr(args, "samples", False):
        if args.folder:
            raise IFCNError("give a folder or --samples, not both.")
        from annotator.samples import samples_workspace
        try:
            args.folder = str(samples_workspace())
        except OSError as e:
            raise IFCNError(f"cannot copy the sample photos to the data folder: {e}") from None
    folder = Path(args.folder).expanduser() if args.folder else None
    if folder is not None and not folder.exists():
        raise IFCNError(f"{folder}: no such folder or image.")
    labels = None
    if getattr(args, "labels", None):
        from models.class_list import read_any_list
        labels = read_any_list(Path(args.labels).expanduser())  # ClassListError: exit 2 before any window
    _preload_model_code()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APP_NAME)
    store = QSettings(args.settings, QSettings.IniFormat) if args.settings else open_qsettings()
    settings = load_settings(store, default_settings())
    changes = {k: v for k, v in (("device", args.device), ("max_size", args.max_size)) if v is not None}
    if changes:
        settings = settings.updated(**changes)
    window = MainWindow(settings=settings, store=store)
    window.class_ctl.set_start_list(labels)
    hook = crash_report.install(window)  # an exception in a slot is shown and logged, not fatal
    stops = stop_signals.install(window)  # logout, a closed terminal, Ctrl+C: saved and closed, not killed
    try:
        code = _run_window(app, window, folder, settings, args)
        return 128 + stops.received if stops.received is not None else code
    finally:
        stops.uninstall()
        hook.uninstall()


def _run_window(app: QApplication, window: MainWindow, folder: Path | None, settings: Settings,
                args: argparse.Namespace) -> int:
    """Open the folder (or the last one) in the shown window and run the event loop."""
    install_training_tools(window)
    model_actions.install_engine_menu(window)  # Model → Inference Engine; the setting reaches every predictor
    window.show()
    _load_predictor(window, args.checkpoint)
    if folder is None and settings.last_folder and Path(settings.last_folder).is_dir():
        folder = Path(settings.last_folder)
    if folder is not None:
        def open_start_folder(path: Path = folder) -> None:
            if path.is_file():
                window.open_image_file(path)
            else:
                window.open_folder(path)
            if args.output:
                window.set_output_dir(args.output)
        # from the event loop, like any slot: an unforeseen error while the folder opens reaches the installed
        # excepthook (shown, logged, the window stays) instead of ending the process (a crash loop with
        # "reopen last folder")
        QTimer.singleShot(0, open_start_folder)
    if args.screenshot:
        def shoot() -> None:
            window.wait_for_inference(20)
            window.grab().save(args.screenshot)
            window.close()
        QTimer.singleShot(max(300, args.quit_after or 0), shoot)
    elif args.quit_after:
        QTimer.singleShot(args.quit_after, window.close)
    return int(app.exec_())


def main(argv: list[str] | None = None) -> int:
    """`python -m annotator` entry point."""
    parser = argparse.ArgumentParser(prog="python -m annotator", description="Click-to-mask image annotator.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except IFCNError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
