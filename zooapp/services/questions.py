"""New questions learned from few labels: a head on the frozen encoder predicts them for every subject.

A researcher adds a question the classifier never learned (e.g. "Is there a ring?"), people with a
role on the project label some galaxies, and `question_head_fit` fits
`ml.represent.fewlabel.FewLabelHead` on the serving classifier version's embeddings. Every
prediction is stored against that head, and through it against the classifier version whose
encoder made the embeddings, with the ensemble's spread and entropy as its uncertainty.

A question opened to volunteers (``NewQuestion.volunteers``; by the project's staff on /research/questions/,
`question_volunteers_open` and `question_volunteers_close`, or by ``new_question --volunteers``) is asked on the
classify page, after Done, about the galaxy just classified (`questions_for_volunteer`,
`question_volunteer_answer`): a short second workflow beside the tree, so the tree's versions and the engine
stay as they are. Where project members have labelled a galaxy their answers decide it; elsewhere the
volunteers' majority does.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from zooapp.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from zooapp.models import (Classification, NewQuestion, QuestionHead, QuestionLabel, QuestionPrediction, Subject,
                           Volunteer, Workflow)
from zooapp.services.embeddings import workflow_embeddings

MIN_LABELS = 10
KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class QuestionRefused(ApplicationError):
    """A volunteer's answer about a galaxy they have not classified (403)."""

    status_code = 403


def new_question_create(*, workflow: Workflow, key: str, text: str, answers: list[str], user=None,
                        volunteers: bool = False) -> NewQuestion:
    """Add a question to a workflow's research questions; answers are 2 to 10 distinct labels.

    With ``volunteers`` the classify page asks it too (see `question_volunteers_set`).
    """
    key, text = (key or "").strip(), (text or "").strip()
    if not KEY_RE.match(key):
        raise ValidationFailed("a question key is 1-40 lower-case letters, digits, '_' or '-', starting with a letter")
    if not text or len(text) > 300:
        raise ValidationFailed("a question needs a text of 1-300 characters")
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise ValidationFailed("answers must be a list of non-empty strings")
    answers = [a.strip() for a in answers]
    if not 2 <= len(answers) <= 10 or len(set(answers)) != len(answers):
        raise ValidationFailed("a question needs 2 to 10 distinct answers")
    try:
        with transaction.atomic():
            return NewQuestion.objects.create(workflow=workflow, key=key, text=text, answers=answers, created_by=user,
                                              volunteers=bool(volunteers))
    except IntegrityError:
        raise Conflict(f"this workflow already has a question {key!r}") from None


def _answer_index(question: NewQuestion, answer: str | int) -> int:
    if isinstance(answer, str) and not answer.isdigit():
        if answer not in question.answers:
            raise ValidationFailed(f"answer must be one of {', '.join(question.answers)}")
        return question.answers.index(answer)
    index = int(answer)
    if not 0 <= index < len(question.answers):
        raise ValidationFailed(f"answer index must lie in 0..{len(question.answers) - 1}")
    return index


def question_label_set(*, question: NewQuestion, subject_id: int, answer: str | int, user=None) -> QuestionLabel:
    """Record one project member's answer (a label of the question, or its index) for one subject."""
    index = _answer_index(question, answer)
    if not Subject.objects.filter(pk=subject_id, workflow_id=question.workflow_id).exists():
        raise NotFound(f"subject {subject_id} is not in this question's workflow")
    # volunteer=None: a label loaded without a user (the command's CSV) must not overwrite a volunteer's
    label, _ = QuestionLabel.objects.update_or_create(question=question, subject_id=subject_id, user=user,
                                                      volunteer=None, defaults={"answer": index})
    return label


def question_volunteers_set(*, question: NewQuestion, volunteers: bool) -> NewQuestion:
    """Open the question to volunteers on the classify page, or close it again (their answers stay)."""
    question.volunteers = bool(volunteers)
    question.save(update_fields=["volunteers"])
    return question


def question_volunteers_open(*, question: NewQuestion) -> NewQuestion:
    """Start asking volunteers the question on the classify page (the researchers' page's Open button).

    Unlike `question_volunteers_set` it refuses a question already open (Conflict, 409), so a button pressed on a
    page someone else has changed since says so instead of quietly doing nothing.
    """
    return _question_volunteers_switch(question=question, volunteers=True)


def question_volunteers_close(*, question: NewQuestion) -> NewQuestion:
    """Stop asking volunteers the question; the answers they gave stay and still count in the next fit.

    A question already closed is refused (Conflict, 409) and nothing changes.
    """
    return _question_volunteers_switch(question=question, volunteers=False)


def _question_volunteers_switch(*, question: NewQuestion, volunteers: bool) -> NewQuestion:
    with transaction.atomic():
        # the row lock makes two simultaneous presses one change and one refusal, never two changes
        locked = NewQuestion.objects.select_for_update().get(pk=question.pk)
        if locked.volunteers == volunteers:
            state = "open to volunteers" if volunteers else "closed to volunteers"
            raise Conflict(f"question {locked.key!r} is already {state}: nothing changed")
        return question_volunteers_set(question=locked, volunteers=volunteers)


def questions_counted(*, questions: QuerySet[NewQuestion]) -> QuerySet[NewQuestion]:
    """``questions``, each with ``n_labels`` and ``n_volunteer_labels`` (of those, the answers given on the
    classify page) counted in the one query."""
    return questions.annotate(n_labels=Count("labels"),
                              n_volunteer_labels=Count("labels", filter=Q(labels__volunteer__isnull=False)))


def questions_for_research(*, workflows: QuerySet[Workflow]) -> QuerySet[NewQuestion]:
    """The workflows' new questions for the researchers' page, counted (``questions_counted``)."""
    return (questions_counted(questions=NewQuestion.objects.filter(workflow__in=workflows))
            .select_related("workflow__project").order_by("workflow__project__name", "workflow__name", "key"))


def questions_for_volunteer(*, subject: Subject, volunteer: Volunteer | None) -> list[tuple[NewQuestion, int | None]]:
    """The subject's workflow's questions open to volunteers, each with the volunteer's answer so far (or None)."""
    questions = list(NewQuestion.objects.filter(workflow_id=subject.workflow_id, volunteers=True).order_by("id"))
    given = dict(QuestionLabel.objects.filter(question__in=questions, subject=subject, volunteer=volunteer)
                 .values_list("question_id", "answer")) if volunteer else {}
    return [(q, given.get(q.pk)) for q in questions]


def question_volunteer_answer(*, question_id: int, subject: Subject, volunteer: Volunteer,
                              answer: str | int) -> QuestionLabel:
    """A volunteer's answer to an open question about a galaxy they classified; a second answer replaces the first."""
    question = NewQuestion.objects.filter(pk=question_id, workflow_id=subject.workflow_id, volunteers=True).first()
    if question is None:
        raise NotFound(f"no question {question_id} open to volunteers on this galaxy's workflow")
    index = _answer_index(question, answer)
    if not Classification.objects.filter(volunteer=volunteer, subject=subject).exists():
        raise QuestionRefused("classify this galaxy first: its extra questions come after a classification")
    label, _ = QuestionLabel.objects.update_or_create(question=question, subject=subject, volunteer=volunteer,
                                                      defaults={"answer": index, "user": None})
    return label


def _majority_labels(question: NewQuestion) -> dict[int, int]:
    """``{subject id: most given answer}``; ties go to the lower answer index.

    Project members' labels decide a galaxy they labelled (the volunteers' answers on it are left out); on the
    others the volunteers' majority does.
    """
    votes: dict[tuple[int, bool], Counter] = {}
    rows = QuestionLabel.objects.filter(question=question).values_list("subject_id", "answer", "volunteer_id")
    for subject_id, answer, volunteer_id in rows:
        votes.setdefault((subject_id, volunteer_id is None), Counter())[answer] += 1
    out = {s: min(c, key=lambda a: (-c[a], a)) for (s, member), c in votes.items() if not member}
    out.update({s: min(c, key=lambda a: (-c[a], a)) for (s, member), c in votes.items() if member})
    return out


def _cross_validated_accuracy(x: np.ndarray, y: np.ndarray, n_classes: int) -> float | None:
    """5-fold accuracy of the head on the labels themselves (None with fewer than 5 of the rarest answer)."""
    from sklearn.model_selection import StratifiedKFold

    from ml.represent.fewlabel import FewLabelHead

    if np.bincount(y).min(initial=len(y)) < 5 or len(np.unique(y)) < 2:
        return None
    hits = 0
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        probs, _ = FewLabelHead(n_members=5).fit(x[train], y[train], n_classes=n_classes).predict(x[test])
        hits += int((probs.argmax(1) == y[test]).sum())
    return hits / len(y)


def question_head_fit(*, question: NewQuestion) -> QuestionHead:
    """Fit a head on the labelled subjects' embeddings and store its prediction for every embedded subject."""
    from ml.represent.fewlabel import FewLabelHead

    version, ids, vectors = workflow_embeddings(workflow_id=question.workflow_id)
    labels = _majority_labels(question)
    rows = np.flatnonzero(np.isin(ids, list(labels)))
    y = np.array([labels[int(ids[r])] for r in rows], dtype=np.int64)
    if len(rows) < MIN_LABELS or len(np.unique(y)) < 2:
        raise ValidationFailed(f"label at least {MIN_LABELS} embedded galaxies with at least two different answers "
                               f"first (now {len(rows)} labelled, {len(np.unique(y))} answers)")
    n_classes = len(question.answers)
    head = FewLabelHead().fit(vectors[rows], y, n_classes=n_classes)
    probs, std = head.predict(vectors)
    entropy = -(probs * np.log(np.clip(probs, 1e-12, 1))).sum(axis=1)
    metrics = {"cv_accuracy": _cross_validated_accuracy(vectors[rows], y, n_classes),
               "label_counts": np.bincount(y, minlength=n_classes).tolist()}
    with transaction.atomic():
        row = QuestionHead.objects.create(question=question, model_version=version, n_labels=len(rows),
                                          metrics=metrics)
        QuestionPrediction.objects.bulk_create([
            QuestionPrediction(head=row, subject_id=int(i), probs=[round(float(p), 6) for p in probs[n]],
                               std=float(std[n]), entropy=float(entropy[n])) for n, i in enumerate(ids)])
    return row


def question_latest_head(*, question: NewQuestion) -> QuestionHead:
    head = question.heads.select_related("model_version").order_by("-created_at", "-id").first()
    if head is None:
        raise NotFound(f"question {question.key!r} has no predictions yet: fit it first")
    return head


def question_predictions_csv(*, question: NewQuestion) -> str:
    """The latest head's predictions: one row per subject, every answer's probability and the uncertainty."""
    head = question_latest_head(question=question)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["subject_id", "external_id", "answer", *[f"p_{a}" for a in question.answers], "std", "entropy",
                     "n_labels", "head_id", "model_version_id", "model_version_number"])
    for p in head.predictions.select_related("subject").order_by("subject_id"):
        writer.writerow([p.subject_id, p.subject.external_id, question.answers[int(np.argmax(p.probs))],
                         *[f"{v:.4f}" for v in p.probs], f"{p.std:.4f}", f"{p.entropy:.4f}", head.n_labels,
                         head.pk, head.model_version_id, head.model_version.number])
    return out.getvalue()


def question_labels_set(*, question: NewQuestion, labels: list[dict], user=None) -> int:
    """Record several answers at once (``[{"subject": id, "answer": label or index}]``): all or none."""
    with transaction.atomic():
        for item in labels:
            question_label_set(question=question, subject_id=int(item["subject"]), answer=item["answer"], user=user)
    return len(labels)
