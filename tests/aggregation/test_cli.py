import pandas as pd
import pytest

from aggregation.cli import main


@pytest.fixture
def votes_csv(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("task,worker,label\n1,a,smooth\n1,b,smooth\n1,c,featured\n2,a,featured\n2,b,featured\n")
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_it_writes_labels_and_probabilities(tmp_path, votes_csv, capsys):
    out = tmp_path / "out.csv"
    code, err = run(capsys, "labels", "--votes", votes_csv, "--out", out)
    assert code == 0 and err == ""
    table = pd.read_csv(out)
    assert list(table.columns) == ["task", "label", "p_featured", "p_smooth"]
    assert table["label"].tolist() == ["smooth", "featured"]


def test_it_keeps_labels_as_strings(tmp_path, capsys):
    votes = tmp_path / "votes.csv"
    votes.write_text("task,worker,label\n1,a,01\n1,b,01\n2,a,1\n2,b,1\n")
    out = tmp_path / "out.csv"
    assert run(capsys, "labels", "--votes", votes, "--method", "majority", "--out", out)[0] == 0
    assert pd.read_csv(out, dtype=str)["label"].tolist() == ["01", "1"]


def test_it_writes_consensus_boxes(tmp_path, capsys):
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("task,worker,x_min,y_min,x_max,y_max\nimg,a,0,0,10,10\nimg,b,1,0,11,10\n")
    seen = tmp_path / "seen.csv"
    seen.write_text("task,worker\nimg,a\nimg,b\nimg,c\n")
    out = tmp_path / "out.csv"
    assert run(capsys, "boxes", "--boxes", boxes, "--seen", seen, "--out", out)[0] == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["task", "x_min", "y_min", "x_max", "y_max", "p_real", "n_workers"]
    assert len(table) == 1


@pytest.mark.parametrize("content, message", [
    ("task,worker\n1,a\n", "missing column(s) label"),
    ("", "is empty"),
    ("task,worker,label\n", "votes is empty"),
])
def test_it_reports_bad_votes_in_one_line_with_status_2(tmp_path, capsys, content, message):
    votes = tmp_path / "votes.csv"
    votes.write_text(content)
    out = tmp_path / "out.csv"
    code, err = run(capsys, "labels", "--votes", votes, "--out", out)
    assert code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_it_refuses_gold_on_a_task_nobody_voted_on(tmp_path, votes_csv, capsys):
    gold = tmp_path / "gold.csv"
    gold.write_text("task,label\n99,smooth\n")
    code, err = run(capsys, "labels", "--votes", votes_csv, "--gold", gold, "--out", tmp_path / "out.csv")
    assert code == 2 and "gold task '99' has no votes" in err


@pytest.mark.parametrize("rows, message", [
    ("img,a,0,0,abc,10\n", "'x_max' must be numeric"),
    ("img,a,5,0,1,10\n", "x_max < x_min"),
])
def test_it_reports_bad_boxes_with_status_2(tmp_path, capsys, rows, message):
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("task,worker,x_min,y_min,x_max,y_max\n" + rows)
    seen = tmp_path / "seen.csv"
    seen.write_text("task,worker\nimg,a\n")
    out = tmp_path / "out.csv"
    code, err = run(capsys, "boxes", "--boxes", boxes, "--seen", seen, "--out", out)
    assert code == 2 and message in err and not out.exists()


def test_it_reports_a_missing_file(tmp_path, capsys):
    code, err = run(capsys, "labels", "--votes", tmp_path / "nope.csv", "--out", tmp_path / "out.csv")
    assert code == 2 and "does not exist" in err


def test_it_chooses_the_model_by_default_and_names_ties_numerically(tmp_path, capsys):
    votes = tmp_path / "votes.csv"
    votes.write_text("task,worker,label\n1,a,10\n1,b,2\n2,a,2\n2,b,2\n2,c,10\n")
    out = tmp_path / "out.csv"
    assert run(capsys, "labels", "--votes", votes, "--out", out)[0] == 0
    table = pd.read_csv(out, dtype=str)
    assert list(table.columns) == ["task", "label", "p_2", "p_10"]
    assert table["label"].tolist()[1] == "2"


def test_it_passes_the_online_options_through(tmp_path, votes_csv, capsys):
    out = tmp_path / "out.csv"
    code, err = run(capsys, "labels", "--votes", votes_csv, "--method", "online", "--unsupervised-weight", "0.5",
                    "--out", out)
    assert code == 0 and out.exists()
    code, err = run(capsys, "labels", "--votes", votes_csv, "--method", "majority", "--restarts", "2",
                    "--out", out)
    assert code == 2 and "--restarts does not apply to method 'majority'" in err


@pytest.mark.parametrize("votes_text, gold_text, out_name, message", [
    ("task,worker,label\n1,a,smooth\n1,b, \n", None, "out.csv", "has a blank label"),
    ("task,worker,label\n1,a,smooth\n1,b,featured\n", "task,label\n1,star\n", "out.csv",
     "gold label 'star' is not the answer of any vote"),
    ("task,worker,label\n1,a,smooth\n1,b,featured\n", None, "missing/out.csv", "output folder"),
])
def test_each_bad_input_gives_one_error_line_and_status_2(tmp_path, capsys, votes_text, gold_text, out_name,
                                                          message):
    votes = tmp_path / "votes.csv"
    votes.write_text(votes_text)
    argv = ["labels", "--votes", votes, "--out", tmp_path / out_name]
    if gold_text:
        (tmp_path / "gold.csv").write_text(gold_text)
        argv += ["--gold", tmp_path / "gold.csv"]
    code, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / out_name).exists()
