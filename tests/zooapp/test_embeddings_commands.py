"""The representation commands: similar, anomaly, new_question and embeddings_refresh, with one-line errors."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import arc_vectors, embeddings_store, make_workflow
from tests.zooapp.machine_fixtures import classifier_row, smooth_checkpoint  # noqa: F401
from zooapp.models import AnomalyLabel, ModelVersion, NewQuestion, QuestionPrediction, SubjectEmbedding

pytestmark = pytest.mark.django_db


@pytest.fixture
def arc(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=12, n_gold=0)
    _, subjects = embeddings_store(workflow, arc_vectors(12, 10))
    return workflow, subjects


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_similar_prints_the_nearest_galaxies(arc):
    _, s = arc
    lines = run("similar", "--subject", str(s[0].pk), "--k", "2").splitlines()
    assert lines[1].split("\t")[:3] == ["1", str(s[1].pk), "S1"] and lines[2].split("\t")[1] == str(s[2].pk)
    with pytest.raises(CommandError, match="no subject with id 987654"):
        run("similar", "--subject", "987654")


def test_anomaly_starts_marks_and_exports_a_session(arc, admin_user, tmp_path):
    workflow, s = arc
    first = run("anomaly", "--workflow", str(workflow.pk), "--user", admin_user.username, "--name", "odd")
    session = int(first.split()[1])
    run("anomaly", "--session", str(session), "--mark", f"{s[6].pk}=1", "--mark", f"{s[0].pk}=0")
    assert AnomalyLabel.objects.filter(session_id=session).count() == 2
    run("anomaly", "--session", str(session), "--top", "5", "--csv", str(tmp_path / "top.csv"))
    rows = (tmp_path / "top.csv").read_text().splitlines()
    assert len(rows) == 6 and rows[1].startswith(f"1,{s[6].pk},")
    with pytest.raises(CommandError, match="no anomaly session"):
        run("anomaly", "--session", "4242")


def test_new_question_adds_loads_fits_and_writes(arc, tmp_path):
    workflow, s = arc
    labels = tmp_path / "labels.csv"
    labels.write_text("subject,answer\n" + "".join(f"S{i},{'yes' if i < 6 else 'no'}\n" for i in range(12)))
    run("new_question", "--workflow", str(workflow.pk), "--key", "ring", "--text", "Ring?", "--answers", "yes,no",
        "--labels", str(labels), "--fit", "--csv", str(tmp_path / "pred.csv"))
    question = NewQuestion.objects.get(key="ring")
    assert QuestionPrediction.objects.filter(head__question=question).count() == 12
    assert (tmp_path / "pred.csv").read_text().count("\n") == 13
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,answer\nS1,yes\nS99,yes\n")
    with pytest.raises(CommandError, match="line 3: no subject 'S99'"):
        run("new_question", "--question", str(question.pk), "--labels", str(bad))


def test_embeddings_refresh_embeds_with_the_serving_version(admin_user, smooth_checkpoint):  # noqa: F811
    workflow = make_workflow(owner=admin_user, n_subjects=3, n_gold=0)
    with pytest.raises(CommandError, match="no serving classifier"):
        run("embeddings_refresh", "--workflow", str(workflow.pk))
    version = classifier_row(workflow, smooth_checkpoint, 1)
    ModelVersion.objects.filter(pk=version.pk).update(serving=True)
    assert "embedded 3 subjects with classifier version 1" in run("embeddings_refresh", "--workflow", str(workflow.pk))
    assert SubjectEmbedding.objects.filter(model_version=version).count() == 3
