import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ml.checkpoint import load_checkpoint
from ml.cli import main
from ml.detector import DetectorConfig, build_detector, detect, train_detector
from ml.detector.anchors import anchor_sizes_from, clump_scout_sides
from ml.detector.metrics import THRESHOLDS, pick_threshold
from ml.detector.tiles import random_tile


def _dotted_images(folder, sizes) -> tuple[list, pd.DataFrame]:
    """Black images of the given (width, height) with one bright 6-px square each, and its box."""
    folder.mkdir(exist_ok=True)
    files, rows = [], []
    for i, (w, h) in enumerate(sizes):
        img = np.zeros((h, w, 3), np.uint8)
        x, y = w - 14, h // 2
        img[y:y + 6, x:x + 6] = 255
        files.append(folder / f"im{i}.png")
        Image.fromarray(img).save(files[-1])
        rows.append((i, x, y, x + 6, y + 6))
    return files, pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max"])


@pytest.fixture(scope="module")
def native_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("native")
    files, boxes = _dotted_images(folder / "img", [(80, 64)] * 6)
    cfg = DetectorConfig(backbone="scratch", native=True, image_size=48, anchor_sizes=(6,), steps=2,
                         batch_size=2, val_fraction=0.34, out_dir=str(folder / "model"))
    return train_detector(cfg, images=files, boxes=boxes, progress=False)["checkpoint"]


def test_it_keeps_native_inputs_at_their_file_size():
    model = build_detector(DetectorConfig(backbone="scratch", native=True, image_size=48)).eval()
    batch, _ = model.transform([torch.zeros(3, 80, 100)])
    assert batch.image_sizes == [(80, 100)]


def test_it_detects_at_native_size_and_maps_boxes_to_file_pixels(tmp_path, native_ckpt):
    files, _ = _dotted_images(tmp_path, [(120, 90), (40, 40)])
    found = detect(native_ckpt, images=files, score_threshold=0.0)
    big, small = found[found.task == 0], found[found.task == 1]
    # Boxes lie beyond the 48-px training tile (no resize) yet inside each file's own frame.
    assert big.x_max.max() > 48 and big.x_max.max() <= 120 and big.y_max.max() <= 90
    assert small.x_max.max() <= 40 and small.y_max.max() <= 40


def test_it_detects_with_the_threshold_picked_on_validation(tmp_path, native_ckpt):
    threshold = load_checkpoint(native_ckpt, kind="detector")["extra"]["metrics"]["val_threshold"]
    files, _ = _dotted_images(tmp_path, [(80, 64)])
    found = detect(native_ckpt, images=files)
    assert threshold in THRESHOLDS and (found.score >= threshold).all()


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_it_cuts_tiles_whose_boxes_follow_their_pixels(scale):
    image = torch.zeros((3, 60, 90), dtype=torch.uint8)
    image[:, 30:36, 50:56] = 255
    boxes = torch.tensor([[50.0, 30.0, 56.0, 36.0, 1.0]])
    tile, kept = random_tile(image, boxes, tile=40, scale_range=(scale, scale), generator=torch.Generator())
    x0, y0, x1, y1 = kept[0, :4].tolist()
    assert tile.shape == (3, 40, 40) and x1 - x0 == pytest.approx(6 * scale, abs=0.5)
    assert tile[:, int((y0 + y1) / 2), int((x0 + x1) / 2)].min() > 0.9  # the bright square is under its box


def test_it_drops_boxes_whose_centre_leaves_the_tile():
    image = torch.zeros((3, 200, 200), dtype=torch.uint8)
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0, 1.0], [96.0, 96.0, 104.0, 104.0, 1.0]])
    _, kept = random_tile(image, boxes, tile=40, scale_range=(1.0, 1.0), generator=torch.Generator().manual_seed(0))
    assert len(kept) <= 1 and ((kept[:, :4] >= 0) & (kept[:, :4] <= 40)).all()


def test_it_sets_anchors_from_the_box_size_distribution(tmp_path):
    sides = np.array([4.0] * 5 + [10.0] * 90 + [30.0] * 5)
    assert anchor_sizes_from(sides, quantiles=(0.02, 0.5, 0.98)) == (4, 10, 30)
    (tmp_path / "b.csv").write_text("x1,y1,x2,y2\n0,0,20,20\n10,10,50,50\n")
    assert clump_scout_sides(tmp_path / "b.csv", frame=800).tolist() == [40.0, 80.0]


def test_it_refuses_anchors_without_boxes_and_unreadable_box_files(tmp_path):
    with pytest.raises(ValueError, match="positive side"):
        anchor_sizes_from(np.array([]))
    with pytest.raises(ValueError, match="cannot read Clump Scout boxes"):
        clump_scout_sides(tmp_path / "missing.csv")


def test_it_picks_the_threshold_of_highest_f1():
    truth = pd.DataFrame({"task": [0, 0], "x_min": [0.0, 50.0], "y_min": [0.0, 50.0], "x_max": [6.0, 56.0],
                          "y_max": [6.0, 56.0]})
    pred = pd.DataFrame({"task": [0, 0, 0], "x_min": [0.0, 50.0, 20.0], "y_min": [0.0, 50.0, 20.0],
                         "x_max": [6.0, 56.0, 26.0], "y_max": [6.0, 56.0, 26.0], "score": [0.9, 0.6, 0.4]})
    best = pick_threshold(pred, truth, psf_fwhm=3.0)
    assert 0.4 < best["threshold"] <= 0.6 and best["f1"] == 1.0


def test_the_cli_trains_natively_with_anchors_from_the_boxes_and_writes_the_contract(tmp_path):
    files, boxes = _dotted_images(tmp_path / "img", [(80, 64)] * 4)
    (tmp_path / "img" / "manifest.csv").write_text(pd.DataFrame({
        "id": [f"g{i}" for i in range(4)], "file": [f.name for f in files],
        "clumps": [json.dumps([r[1:]]) for r in boxes.itertuples(index=False)]}).to_csv(index=False))
    assert main(["train-detector", "--images", str(tmp_path / "img"), "--out", str(tmp_path / "m"), "--steps", "1",
                 "--batch-size", "2", "--tile", "48", "--scale-range", "1", "1", "--val-fraction", "0"]) == 0
    saved = load_checkpoint(tmp_path / "m" / "best.pt", kind="detector")["config"]
    assert saved["native"] and tuple(saved["anchor_sizes"]) == (6,)
    assert main(["detect", "--checkpoint", str(tmp_path / "m" / "best.pt"), "--images", str(tmp_path / "img"),
                 "--out", str(tmp_path / "d.csv"), "--threshold", "0"]) == 0
    assert list(pd.read_csv(tmp_path / "d.csv").columns) == ["image", "x_min", "y_min", "x_max", "y_max", "score"]


@pytest.mark.parametrize("argv, message", [
    (["--tile", "8"], "--tile"),
    (["--scale-range", "2", "1"], "--scale-range"),
    (["--resize", "4"], "--resize"),
])
def test_the_cli_refuses_bad_detector_settings_with_one_line(tmp_path, capsys, argv, message):
    files, _ = _dotted_images(tmp_path / "img", [(64, 64)])
    (tmp_path / "b.csv").write_text("task,x_min,y_min,x_max,y_max\n0,1,1,7,7\n")
    code = main(["train-detector", "--images", str(tmp_path / "img"), "--boxes", str(tmp_path / "b.csv"),
                 "--out", str(tmp_path / "m"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err and not (tmp_path / "m").exists()


def test_detect_names_an_unreadable_image_in_one_line(tmp_path, capsys, native_ckpt):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "broken.jpg").write_bytes(b"not a jpeg")
    code = main(["detect", "--checkpoint", str(native_ckpt), "--images", str(tmp_path / "img"),
                 "--out", str(tmp_path / "d.csv")])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert code == 2 and len(errors) == 1 and errors[0].startswith("error: cannot read image")
    assert "broken.jpg" in errors[0] and not (tmp_path / "d.csv").exists()


def test_detect_refuses_a_threshold_outside_0_1_in_one_line(tmp_path, capsys, native_ckpt):
    files, _ = _dotted_images(tmp_path / "img", [(64, 64)])
    code = main(["detect", "--checkpoint", str(native_ckpt), "--images", str(tmp_path / "img"),
                 "--out", str(tmp_path / "d.csv"), "--threshold", "1.5"])
    assert code == 2 and "score_threshold" in capsys.readouterr().err
