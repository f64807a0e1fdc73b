"""Hostile and broken files: each gives the project's error naming the file (library, CLI, annotator)."""
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from annotator import label_file
from models.checkpoint import load_checkpoint
from models.cli import main as cli_main
from models.errors import AnnotationFileError, CheckpointError, ImageReadError
from models.fileio import read_image, read_index_png, write_index_png
from tests.reliability.hostile import broken_images, deadline, encode, hostile_masks, hostile_sidecars, write
from tests.reliability.killloop import make_image_folder


def test_broken_images_are_named_and_skipped(tmp_path, window, dialogs_rec, figures):
    rgb = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    folder = tmp_path / "images"
    bad = write(folder, broken_images(rgb))
    write(folder, {"zz_good.png": encode(rgb, "PNG")})
    for p in bad:
        with deadline(10), pytest.raises(ImageReadError) as e:
            read_image(p)
        assert p.name in str(e.value)
    w = window(folder)
    assert w.current_image_path.name == "zz_good.png" and w.state is not None
    warned = [text for kind, title, text in dialogs_rec.messages if title == "Cannot read image"]
    assert len(warned) == len(bad)
    for p, text in zip(sorted(bad), warned):
        assert p.name in text and "Traceback" not in text
    assert w.add_click(10, 10) and w.wait_for_inference(5) and w.finish_object()
    figures["hostile_files"] += len(bad)


def _one_image(tmp_path, name="img"):
    folder = make_image_folder(tmp_path / name, n=1)
    return folder, folder / "im0.png", (40, 56)


def test_hostile_mask_pngs_are_refused_and_kept(tmp_path, window, dialogs_rec, figures):
    masks = hostile_masks((40, 56))
    for i, (name, data) in enumerate(masks.items()):
        folder, img, shape = _one_image(tmp_path, f"case{i}")
        sub = label_file.OBJECT_DIR if i % 2 == 0 else label_file.CLASS_DIR
        target = folder / sub / "im0.png"
        write(target.parent, {"im0.png": data})
        with deadline(10), pytest.raises(AnnotationFileError) as e:
            label_file.load(folder, img, shape)
        assert str(target) in str(e.value), name
        dialogs_rec.messages.clear()
        w = window(folder)
        assert w.state is not None and w.state.objects == (), name
        (kind, title, text), = dialogs_rec.messages
        assert title == "Cannot read the annotation" and str(target) in text, name
        # new work saved over it keeps the broken file aside, never silently overwritten
        assert w.add_click(20, 20) and w.wait_for_inference(5) and w.finish_object()
        assert not w.dirty
        kept = [p for p in target.parent.iterdir() if p.name.startswith("im0.png.broken-")]
        assert len(kept) == 1 and kept[0].read_bytes() == data, name
        assert read_index_png(target).max() == (1 if sub == label_file.OBJECT_DIR else 1)
        w.close()
    figures["hostile_files"] += len(masks)


def test_palette_less_grey_mask_is_read_as_indices(tmp_path):
    """8-bit grey ('L') masks are how many tools store indices: read as they are, not refused."""
    folder, img, shape = _one_image(tmp_path)
    inst = np.zeros(shape, np.uint8)
    inst[5:15, 5:20], inst[20:30, 30:50], inst[0, :] = 1, 2, 255
    write(folder / label_file.OBJECT_DIR, {"im0.png": encode(inst, "PNG")})
    assert np.array_equal(read_index_png(folder / label_file.OBJECT_DIR / "im0.png"), inst)
    loaded = label_file.load(folder, img, shape)
    assert [int(o.mask.sum()) for o in loaded.objects] == [150, 200]


def test_hostile_sidecars_are_refused_and_kept(tmp_path, window, dialogs_rec, figures):
    docs = hostile_sidecars((40, 56), "im0.png")
    for i, (name, content) in enumerate(docs.items()):
        folder, img, shape = _one_image(tmp_path, f"case{i}")
        write_index_png(folder / label_file.OBJECT_DIR / "im0.png", np.ones(shape, np.uint8))
        target = folder / label_file.SIDECAR_DIR / "im0.json"
        write(target.parent, {"im0.json": content})
        with deadline(10), pytest.raises(AnnotationFileError) as e:
            label_file.load(folder, img, shape)
        assert str(target) in str(e.value), name
        dialogs_rec.messages.clear()
        w = window(folder)
        assert w.state is not None and w.state.objects == (), name
        (kind, title, text), = dialogs_rec.messages
        assert title == "Cannot read the annotation" and str(target) in text, name
        assert w.add_click(20, 20) and w.wait_for_inference(5) and w.finish_object() and not w.dirty
        assert len(label_file.load(folder, img, shape).objects) == 1
        assert any(p.name.startswith("im0.json.broken-") for p in target.parent.iterdir()), name
        w.close()
    figures["hostile_files"] += len(docs)


class Payload:
    """Unpickling this runs `touch MARKER`."""

    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoints(folder, good):
    """Checkpoint files that must be refused: name → path."""
    folder.mkdir(exist_ok=True)
    out = {}
    torch.save({"format": "ifcn-checkpoint", "version": 1, "spec": {}, "x": Payload()}, folder / "payload.pt")
    (folder / "raw_pickle.pt").write_bytes(pickle.dumps(Payload()))
    payload = torch.load(good, weights_only=True)
    other = dict(payload, spec=dict(payload["spec"], backbone="resnet18"))
    torch.save(other, folder / "other_arch.pt")
    torch.save(dict(payload, spec=dict(payload["spec"], backbone="vgg99")), folder / "unknown_backbone.pt")
    torch.save(payload["state_dict"], folder / "bare_state_dict.pt")
    torch.save({"format": "ifcn-checkpoint", "version": 7, "spec": payload["spec"]}, folder / "future.pt")
    (folder / "text.pt").write_text("not a checkpoint")
    (folder / "image.pt").write_bytes(encode(np.zeros((8, 8, 3), np.uint8), "JPEG"))
    with zipfile.ZipFile(folder / "other_zip.pt", "w") as z:
        z.writestr("readme.txt", "hello")
    data = good.read_bytes()
    (folder / "truncated.pt").write_bytes(data[: len(data) // 3])
    (folder / "empty.pt").write_bytes(b"")
    (folder / "a_folder.pt").mkdir()
    for p in sorted(folder.iterdir()):
        out[p.name] = p
    return out


def test_hostile_checkpoints_library_cli_and_annotator(tmp_path, small_checkpoint, synthetic_devkit, window,
                                                       dialogs_rec, capsys, figures):
    marker = tmp_path / "PWNED"
    Payload.marker = str(marker)
    files = hostile_checkpoints(tmp_path / "ckpts", small_checkpoint)
    w = window(make_image_folder(tmp_path / "images", n=1))
    before = w.predictor
    for name, path in files.items():
        with deadline(60), pytest.raises(CheckpointError) as e:
            load_checkpoint(path)
        assert str(path) in str(e.value), name
        # the CLI: `ifcn noc --checkpoint FILE` prints one line naming the file and exits 2
        capsys.readouterr()
        rc = cli_main(["noc", "--checkpoint", str(path), "--voc-root", str(synthetic_devkit),
                       "--out", str(tmp_path / "noc"), "--device", "cpu"])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error: ") and str(path) in err and "Traceback" not in err, name
        # the annotator: a message naming the file, the current model stays
        dialogs_rec.messages.clear()
        assert not w.load_checkpoint(str(path))
        (kind, title, text), = dialogs_rec.messages
        assert kind == "error" and str(path) in text and "stays in use" in text, name
        assert w.predictor is before
    assert not marker.exists(), "a pickled payload was executed"
    assert "do not match" in str(pytest.raises(CheckpointError, load_checkpoint, files["other_arch.pt"]).value)
    assert "refused" in str(pytest.raises(CheckpointError, load_checkpoint, files["payload.pt"]).value)
    figures["hostile_files"] += len(files)


def test_broken_images_and_masks_through_the_noc_cli(tmp_path, capsys, figures):
    """`ifcn noc --images --masks`: every broken image or mask is skipped with a line naming it."""
    rgb = np.random.default_rng(1).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    good_mask = np.zeros((40, 56), np.uint8)
    good_mask[8:30, 10:45] = 1
    images = {f"img_{k.replace('.', '_')}.{k.rsplit('.', 1)[1]}": v for k, v in broken_images(rgb).items()}
    masks = {f"img_{k.replace('.', '_')}.png": encode(good_mask, "PNG") for k in broken_images(rgb)}
    for k, v in hostile_masks((40, 56)).items():
        images[f"msk_{k.replace('.', '_')}.png"] = encode(rgb, "PNG")
        masks[f"msk_{k.replace('.', '_')}.png"] = v
    images["zz_good.png"], masks["zz_good.png"] = encode(rgb, "PNG"), encode(good_mask, "PNG")
    bad_files = [tmp_path / "images" / k for k in images if k.startswith("img_")] + \
                [tmp_path / "masks" / k for k in masks if k.startswith("msk_")]
    write(tmp_path / "images", images)
    write(tmp_path / "masks", masks)
    capsys.readouterr()
    with deadline(120):
        rc = cli_main(["noc", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"),
                       "--checkpoint", "grabcut", "--out", str(tmp_path / "out"), "--max-clicks", "2"])
    out = capsys.readouterr()
    assert rc == 0 and "Traceback" not in out.err + out.out
    # (a warning can share its line with the progress bar's carriage-return updates)
    skipped = ["warning: skipped" + part.split("\n")[0] for part in out.err.split("warning: skipped")[1:]]
    missing = [p.name for p in bad_files if sum(str(p) in line for line in skipped) != 1]
    assert missing == [], (missing, skipped)
    assert len(skipped) == len(bad_files)
    import json

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(summary["skipped"]) == len(bad_files)
    assert "zz_good" not in json.dumps(summary["skipped"])
    figures["hostile_files"] += len(bad_files)
