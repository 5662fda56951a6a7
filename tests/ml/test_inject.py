import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ml.data import ImageLoadError
from ml.inject import INNER_RADII, STAR_MIN_RADIUS, inject_clumps, inject_survey, inner_clump_offsets, linearise, restretch

DEMO = sorted((Path(__file__).resolve().parents[2] / "zooapp" / "demo" / "sdss").glob("*.jpeg"))


def test_it_round_trips_the_asinh_stretch():
    rgb = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    assert np.array_equal(restretch(linearise(rgb)), rgb)


def test_injected_clumps_land_at_the_recorded_pixels(tmp_path):
    manifest = inject_survey(DEMO[:6], tmp_path, seed=1, progress=False)
    n_checked = 0
    for row in manifest.itertuples():
        original = np.asarray(Image.open(row.source).convert("RGB"), float).sum(axis=2)
        injected = np.asarray(Image.open(tmp_path / row.file), float).sum(axis=2)
        diff = injected - original
        outside = np.ones_like(diff, bool)
        for x0, y0, x1, y1 in json.loads(row.clumps):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            r = int(row.psf_fwhm_px)
            ys, xs = slice(int(cy) - r, int(cy) + r + 1), slice(int(cx) - r, int(cx) + r + 1)
            window = np.clip(diff[ys, xs], 0, None)
            gy, gx = np.mgrid[ys, xs] + 0.5
            centroid = (window * gx).sum() / window.sum(), (window * gy).sum() / window.sum()
            assert diff[int(cy), int(cx)] > 0
            assert np.hypot(centroid[0] - cx, centroid[1] - cy) <= max(1.5, 0.25 * r)
            outside[int(y0) - r:int(y1) + r, int(x0) - r:int(x1) + r] = False
            n_checked += 1
        assert np.abs(diff[outside]).max() <= 1  # nothing changes away from the clumps
    assert n_checked >= 3


def test_it_writes_the_synthetic_manifest_contract(tmp_path):
    manifest = inject_survey(DEMO[:2], tmp_path, seed=0, progress=False)
    again = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    assert list(again["file"]) == list(manifest["file"]) and {"clumps", "psf_fwhm_px", "source"} <= set(again)
    image, boxes, fwhm, decoys = inject_clumps(np.asarray(Image.open(DEMO[0]).convert("RGB")), np.random.default_rng(0))
    assert decoys == [] and json.loads(again["decoys"][0]) == []
    assert image.dtype == np.uint8 and fwhm > 1 and all(0 <= b[0] < b[2] <= image.shape[1] for b in boxes)


def test_it_names_an_unreadable_image(tmp_path):
    bad = tmp_path / "bad.jpeg"
    bad.write_text("not an image")
    with pytest.raises(ImageLoadError, match="bad.jpeg"):
        inject_survey([bad], tmp_path / "out", progress=False)


def test_inner_clumps_lie_inside_the_disc():
    offsets = inner_clump_offsets(np.random.default_rng(3), 50.0)
    radii = np.hypot(offsets[:, 0], offsets[:, 1])
    assert len(offsets) >= 1 and (radii >= INNER_RADII[0] * 50.0).all() and (radii <= INNER_RADII[1] * 50.0).all()


def test_inside_the_disc_adds_clumps_near_the_centre():
    rgb = np.asarray(Image.open(DEMO[0]).convert("RGB"))
    counts = {False: 0, True: 0}
    for inner in counts:
        for seed in range(8):
            _, boxes, _, _ = inject_clumps(rgb, np.random.default_rng(seed), inner=inner)
            w = rgb.shape[1]
            centres = [((b[0] + b[2]) / 2 - w / 2, (b[1] + b[3]) / 2 - w / 2) for b in boxes]
            counts[inner] += sum(np.hypot(*c) <= 0.8 * 50.0 * w / 424 + 1e-9 for c in centres)
    assert counts[True] > counts[False] + 8  # at least one more clump inside 0.8 petroR90 per image


def test_decoy_stars_land_at_their_recorded_pixels_off_the_galaxy_and_outside_the_truth(tmp_path):
    manifest = inject_survey(DEMO[:4], tmp_path, seed=2, stars=3.0, progress=False)
    n_stars = 0
    for row in manifest.itertuples():
        original = np.asarray(Image.open(row.source).convert("RGB"), float)
        injected = np.asarray(Image.open(tmp_path / row.file), float)
        w = original.shape[1]
        for cx, cy in json.loads(row.decoys):
            assert np.hypot(cx - w / 2, cy - w / 2) >= STAR_MIN_RADIUS * 50.0 * w / 424
            diff = (injected - original)[int(cy), int(cx)]
            assert diff.sum() > 0 and diff[2] <= 1.2 * diff[0]  # brighter, and not blue (clumps: B/R about 1.9)
            for x0, y0, x1, y1 in json.loads(row.clumps):
                assert not (x0 <= cx <= x1 and y0 <= cy <= y1)
            n_stars += 1
    assert n_stars >= 3


def test_a_negative_number_of_stars_is_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match="stars"):
        inject_survey(DEMO[:1], tmp_path / "out", stars=-1.0, progress=False)
    assert not (tmp_path / "out" / "manifest.csv").exists()
