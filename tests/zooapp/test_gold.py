"""Experts' gold answers one at a time, and example galaxies per answer for the help."""
from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from tests.conftest import make_workflow
from zooapp.errors import NotFound, ValidationFailed
from zooapp.models import GoldAnswer, SubjectPosterior
from zooapp.services.gold import answer_examples, gold_answer_choices, gold_answer_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(db):
    return make_workflow(owner=get_user_model().objects.create_user("owen"), n_subjects=4, n_gold=0)


def test_an_expert_answer_makes_the_galaxy_gold_and_replaces_an_earlier_one(workflow):
    gold_answer_set(workflow=workflow, external_id="S1", task="T0", value="smooth")
    gold_answer_set(workflow=workflow, external_id=" S1 ", task="T0", value="featured")
    assert list(GoldAnswer.objects.values_list("subject__external_id", "task", "value")) == [("S1", "T0", "featured")]
    assert workflow.subjects.get(external_id="S1").is_gold


@pytest.mark.parametrize("external_id, task, value, error, fault", [
    ("S1", "T9", "smooth", ValidationFailed, "not a question"), ("S1", "T0", "round", ValidationFailed, "choose one of"),
    ("S9", "T0", "smooth", NotFound, "no galaxy 'S9'"), ("S1", "T5", "smooth", ValidationFailed, "not a question")])
def test_a_bad_gold_answer_is_named_and_nothing_is_stored(workflow, external_id, task, value, error, fault):
    with pytest.raises(error, match=fault):
        gold_answer_set(workflow=workflow, external_id=external_id, task=task, value=value)
    assert not GoldAnswer.objects.exists() and not workflow.subjects.filter(is_gold=True).exists()


def test_the_answer_choices_cover_every_question_but_not_the_drawing_task(workflow):
    keys = {key for key, _, _ in gold_answer_choices(workflow=workflow)}
    assert "T0" in keys and "T5" not in keys
    assert ("T0", "smooth") in {(k, label) for k, label, _ in gold_answer_choices(workflow=workflow)}


def posterior(subject, probs, labels=("smooth", "featured", "artifact")):
    SubjectPosterior.objects.create(subject=subject, task="T0", labels=list(labels),
                                    log_posterior=list(np.log(probs)), vote_counts=[0, 0, 0], weighted_counts=[0, 0, 0])


def test_examples_are_confidently_retired_galaxies_never_gold_or_active_ones(workflow):
    s0, s1, s2, s3 = workflow.subjects.order_by("id")
    for s in (s0, s1, s3):
        s.status = "retired"
    s3.is_gold = True
    for s in (s0, s1, s3):
        s.save()
    posterior(s0, [0.97, 0.02, 0.01])   # retired, sure: an example of smooth
    posterior(s1, [0.6, 0.3, 0.1])      # retired, unsure: none
    posterior(s2, [0.99, 0.005, 0.005])  # still active: none
    posterior(s3, [0.99, 0.005, 0.005])  # gold: never an example, it would hand out a gold answer
    examples = answer_examples(workflow=workflow)
    assert list(examples) == ["T0"] and list(examples["T0"]) == ["smooth"]
    (only,) = examples["T0"]["smooth"]
    assert only.subject_id == s0.pk and only.probability == pytest.approx(0.97)


def test_the_classify_page_shows_the_projects_own_examples_in_the_tutorial_and_field_guide(workflow, client):
    from django.core.cache import cache
    from django.urls import reverse
    cache.clear()
    s0, _, _, s3 = workflow.subjects.order_by("id")
    s0.status = "retired"
    s0.save()
    posterior(s0, [0.02, 0.97, 0.01])  # volunteers agreed: featured
    html = client.get(reverse("classify", args=[workflow.pk])).content.decode()
    url = s0.frames.get().image.url
    assert "What you will see" in html and "From this project" in html
    assert html.count(f'src="{url}"') == 2  # the tutorial step and the field guide
    assert '"examples": [{"key": "T0"' in html  # and the task help's data
    cache.clear()
