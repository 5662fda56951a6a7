import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import galsim

from ml.synth import (CLUMP_COUNT_P, CLUMP_RADIUS_DECILES, MANIFEST_COLUMNS, PETRO_R90_PER_R50, PIXEL_SCALE,
                      _Galaxy, draw_galaxy, observation, render_bands, simulate_votes, synth_survey,
                      to_rgb)


def test_it_writes_images_and_a_manifest_with_every_column(survey):
    folder, manifest = survey
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert (folder / "manifest.csv").is_file()
    for name in manifest["file"]:
        with Image.open(folder / name) as im:
            assert im.size == (32, 32) and im.mode == "RGB"


def test_it_is_deterministic_for_a_seed(tmp_path, survey):
    _, manifest = survey
    again = synth_survey(6, tmp_path, seed=3, size=32, progress=False)
    pd.testing.assert_frame_equal(again, manifest.head(6))
    first = np.asarray(Image.open(survey[0] / manifest["file"][0]))
    assert np.array_equal(first, np.asarray(Image.open(tmp_path / again["file"][0])))


def test_it_keeps_every_clump_box_inside_the_image_and_only_in_featured_discs(tmp_path):
    manifest = synth_survey(120, tmp_path, seed=1, size=64, progress=False)
    n_boxes = 0
    for row in manifest.itertuples():
        boxes = json.loads(row.clumps)
        n_boxes += len(boxes)
        if boxes:
            assert row.truth_T0 == "featured" and row.truth_T2 == "no"
        for x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
    assert n_boxes > 20


def test_it_follows_the_demo_tree_in_its_truth_columns(tmp_path):
    m = synth_survey(200, tmp_path, seed=2, size=64, progress=False)
    assert set(m["truth_T0"]) <= {"smooth", "featured", "artifact"}
    smooth, featured = m[m.truth_T0 == "smooth"], m[m.truth_T0 == "featured"]
    assert set(smooth["truth_T1"]) <= {"round", "in_between", "cigar"} and (smooth["truth_T2"] == "").all()
    assert set(featured["truth_T2"]) <= {"yes", "no"} and (featured["truth_T1"] == "").all()
    face_on = featured[featured.truth_T2 == "no"]
    assert set(face_on["truth_T3"]) <= {"bar", "no_bar"} and set(face_on["truth_T4"]) <= {"spiral", "no_spiral"}
    assert 0.3 < len(smooth) / len(m) < 0.6 and 0.35 < len(featured) / len(m) < 0.65


def test_it_places_clumps_where_the_image_is_bright(tmp_path):
    manifest = synth_survey(60, tmp_path, seed=4, size=64, progress=False)
    inside, outside = [], []
    for row in manifest.itertuples():
        image = np.asarray(Image.open(tmp_path / row.file), dtype=float).sum(axis=2)
        for x0, y0, x1, y1 in json.loads(row.clumps):
            cx, cy = int((x0 + x1) / 2), int((y0 + y1) / 2)
            inside.append(image[cy, cx])
            outside.append(image[int(y0) % 64, int(x0) % 64])
    assert np.mean(inside) > np.mean(outside)


def test_it_rejects_a_bad_size(tmp_path):
    with pytest.raises(ValueError, match="n > 0"):
        synth_survey(0, tmp_path)


def test_it_simulates_perfect_volunteers_who_agree_with_the_truth(survey, tree):
    _, manifest = survey
    counts = simulate_votes(manifest, tree, n_volunteers=4, accuracy=1.0)
    assert counts["T0"].shape == (24, 3)
    labels = tree.tasks["T0"].labels
    assert [labels[i] for i in counts["T0"].argmax(1)] == list(manifest["truth_T0"])
    assert np.all(counts["T0"].sum(1) == 4)
    smooth = (manifest["truth_T0"] == "smooth").to_numpy()
    assert np.all(counts["T1"][smooth].sum(1) == 4) and np.all(counts["T1"][~smooth].sum(1) == 0)


def _lone_star(size: int, seed: int) -> tuple[_Galaxy, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = observation(rng, size)
    star = _Galaxy(truth={}, obs=obs, mag_r=14.0, r50=1.0, profiles=[(galsim.DeltaFunction(flux=2e4), "star")])
    return star, render_bands(star, rng)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_its_psf_and_sky_noise_are_measured_back_from_the_rendered_bands(seed):
    star, bands = _lone_star(96, seed)
    for b in range(3):
        image = bands[b]
        corners = np.concatenate([image[:20, :20].ravel(), image[-20:, -20:].ravel(), image[:20, -20:].ravel()])
        assert abs(corners.std() / star.obs.sky_sigma[b] - 1) < 0.1
        # FWHM from the area above half the peak: pi (FWHM / 2)^2 pixels.
        above = (image > image.max() / 2).sum()
        assert abs(2 * np.sqrt(above / np.pi) / star.obs.psf_fwhm[b] - 1) < 0.15


def test_its_seeing_and_noise_are_sdss_like():
    obs = [observation(np.random.default_rng(i), 64) for i in range(300)]
    fwhm_arcsec = np.array([o.psf_fwhm[1] for o in obs]) * PIXEL_SCALE
    assert 1.3 < np.median(fwhm_arcsec) < 1.5 and fwhm_arcsec.std() > 0.1
    sky = np.array([o.sky_sigma for o in obs])
    assert np.all(np.median(sky, axis=0)[2] > np.median(sky, axis=0)[:2])  # i is the shallowest band


def test_its_colour_image_is_the_lupton_asinh_mapping_of_the_bands():
    _, bands = _lone_star(64, 3)
    rgb = to_rgb(bands)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert rgb[32, 32].max() == 255 and np.median(rgb[:10, :10]) < 40  # saturated star core, dark sky


def test_its_clumps_follow_the_clump_scout_counts_and_radii():
    counts, radii = [], []
    for i in range(600):
        galaxy = draw_galaxy(np.random.default_rng([9, i]), 256)
        if galaxy.clumps:
            counts.append(len(galaxy.clumps))
            r90 = PETRO_R90_PER_R50 * galaxy.r50 / PIXEL_SCALE
            radii += [np.hypot((b[0] + b[2]) / 2 - 128, (b[1] + b[3]) / 2 - 128) / r90 for b in galaxy.clumps]
    expected_mean = (np.arange(1, 10) * CLUMP_COUNT_P).sum() / CLUMP_COUNT_P.sum()
    assert len(counts) > 80 and abs(np.mean(counts) - expected_mean) < 0.4
    assert abs(np.median(radii) / CLUMP_RADIUS_DECILES[5] - 1) < 0.15


def test_its_default_subject_is_256_pixels(tmp_path):
    manifest = synth_survey(2, tmp_path, seed=0, progress=False)
    assert (manifest["width"] == 256).all() and (manifest["psf_fwhm_px"] > 2).all()
    assert Image.open(tmp_path / manifest["file"][0]).size == (256, 256)
