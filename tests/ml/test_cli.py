import pandas as pd
import pytest

from ml.cli import main


def test_it_renders_a_survey_from_the_command_line(tmp_path, capsys):
    assert main(["synth", "--n", "3", "--out", str(tmp_path / "s"), "--size", "32"]) == 0
    assert len(pd.read_csv(tmp_path / "s" / "manifest.csv")) == 3


def test_it_exits_2_with_one_line_for_a_missing_image_folder(tmp_path, capsys):
    code = main(["predict", "--checkpoint", str(tmp_path / "x.pt"), "--images", str(tmp_path / "none"),
                 "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "Traceback" not in err


def test_it_exits_2_for_an_unreadable_image(tmp_path, capsys, survey, tree):
    _, manifest = survey
    broken = tmp_path / "broken"
    broken.mkdir()
    manifest.head(2).to_csv(broken / "manifest.csv", index=False)
    (broken / manifest["file"][0]).write_bytes(b"not a png")
    code = main(["train-classifier", "--images", str(broken), "--simulate-votes", "3", "--out", str(tmp_path / "m")])
    assert code == 2 and "cannot read image" in capsys.readouterr().err


def test_it_exits_2_for_boxes_without_coordinates(tmp_path, capsys, survey):
    folder, _ = survey
    (tmp_path / "boxes.csv").write_text("task,x_min\n0,1\n")
    code = main(["train-detector", "--images", str(folder), "--boxes", str(tmp_path / "boxes.csv"),
                 "--out", str(tmp_path / "d")])
    assert code == 2 and "lacks column" in capsys.readouterr().err


def test_it_exits_2_for_a_bad_option():
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--n", "many", "--out", "x"])
    assert exc.value.code == 2


def test_it_trains_and_predicts_end_to_end(tmp_path, survey):
    folder, _ = survey
    model = tmp_path / "clf"
    assert main(["train-classifier", "--images", str(folder), "--simulate-votes", "3", "--out", str(model),
                 "--steps", "2", "--min-steps", "2", "--n-ensemble", "1"]) == 0
    assert main(["predict", "--checkpoint", str(model / "best.pt"), "--images", str(folder),
                 "--out", str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv")
    assert len(table) == 24 and {"T0_smooth", "T0_bald", "T4_entropy"} <= set(table.columns)


def test_inject_writes_a_manifest_of_injected_clumps(tmp_path):
    import shutil
    from pathlib import Path

    demo = sorted((Path(__file__).resolve().parents[2] / "zooapp" / "demo" / "sdss").glob("*.jpeg"))[:2]
    (tmp_path / "real").mkdir()
    for path in demo:
        shutil.copy(path, tmp_path / "real" / path.name)
    assert main(["inject", "--images", str(tmp_path / "real"), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "manifest.csv").is_file()
    assert main(["inject", "--images", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
