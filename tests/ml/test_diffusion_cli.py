"""``python -m ml train-diffusion`` / ``generate``: a tiny run end to end, and one error line for bad arguments."""
from __future__ import annotations

import pandas as pd
import pytest

from ml.cli import main

TINY = ["--image-size", "16", "--steps", "2", "--batch-size", "4"]


@pytest.fixture(scope="module")
def checkpoint(survey, tmp_path_factory):
    folder, _ = survey
    out = tmp_path_factory.mktemp("cli-diffusion")
    assert main(["train-diffusion", "--images", str(folder), "--out", str(out), *TINY]) == 0
    return out / "checkpoint.pt"


def test_it_trains_resumes_and_generates_marked_images(checkpoint, survey, tmp_path):
    folder, _ = survey
    assert main(["train-diffusion", "--images", str(folder), "--out", str(checkpoint.parent), "--resume",
                 "--image-size", "16", "--steps", "3", "--batch-size", "4"]) == 0
    assert main(["generate", "--checkpoint", str(checkpoint), "--condition", "T2.yes", "--n", "2",
                 "--out", str(tmp_path), "--sample-steps", "2"]) == 0
    manifest = pd.read_csv(tmp_path / "manifest.csv")
    assert len(manifest) == 2 and set(manifest["condition"]) == {"T2.yes"}


@pytest.mark.parametrize("args, fragment", [
    (["--condition", "bogus"], "no answer 'bogus'"),
    (["--condition", "[1, 0]"], "12 fractions"),
    (["--condition", "[1, 0"], "not a JSON list"),
    (["--condition", "smooth", "--n", "0"], "--n must be > 0"),
])
def test_bad_generate_arguments_print_one_error_line(checkpoint, tmp_path, capsys, args, fragment):
    argv = ["generate", "--checkpoint", str(checkpoint), "--n", "1", "--out", str(tmp_path / "g"), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and fragment in err, err
    assert not (tmp_path / "g").exists()


def test_bad_training_arguments_print_one_error_line(tmp_path, capsys):
    s82 = tmp_path / "gzh_s82_clumpy_galaxies"
    s82.mkdir()
    cases = [(["--images", str(s82)], "evaluation-only"),
             (["--images", str(tmp_path / "missing")], "not a folder"),
             (["--images", str(tmp_path), "--resume"], "neither a manifest.csv"),
             (["--images", str(tmp_path), "--image-size", "20"], "neither a manifest.csv")]
    for args, fragment in cases:
        assert main(["train-diffusion", "--out", str(tmp_path / "m"), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and fragment in err, err
    assert main(["generate", "--checkpoint", str(tmp_path / "none.pt"), "--condition", "smooth", "--n", "1",
                 "--out", str(tmp_path / "g")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
