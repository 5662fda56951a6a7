import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from zooapp.errors import ApplicationError
from zooapp.models import NewQuestion, Subject, Workflow
from zooapp.services.questions import (new_question_create, question_head_fit, question_label_set,
                                       question_predictions_csv, question_volunteers_set)


class Command(BaseCommand):
    help = ("New questions from few labels: add one (--workflow --key --text --answers a,b), load labels from a "
            "CSV with columns subject (id or external id) and answer (--question --labels), fit the head on the "
            "frozen encoder (--fit), and write its predictions with their uncertainty (--csv).")

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int)
        parser.add_argument("--key")
        parser.add_argument("--text")
        parser.add_argument("--answers", help="comma-separated answer labels")
        parser.add_argument("--question", type=int, help="an existing question's id")
        parser.add_argument("--labels", type=Path, help="CSV of subject,answer")
        parser.add_argument("--volunteers", choices=["on", "off"],
                            help="on: volunteers answer it on the classify page after each classification")
        parser.add_argument("--fit", action="store_true")
        parser.add_argument("--csv", type=Path, help="write the latest predictions here")

    def handle(self, *args, **opts):
        try:
            question = self._question(opts)
            if opts["volunteers"]:
                question_volunteers_set(question=question, volunteers=opts["volunteers"] == "on")
                self.stdout.write(f"question {question.pk} is {'now' if question.volunteers else 'no longer'} "
                                  "asked on the classify page")
            if opts["labels"]:
                self.stdout.write(f"loaded {self._load(question, opts['labels'])} labels")
            if opts["fit"]:
                head = question_head_fit(question=question)
                self.stdout.write(f"fitted on {head.n_labels} labels (classifier version "
                                  f"{head.model_version.number}); cross-validated accuracy "
                                  f"{head.metrics.get('cv_accuracy')}")
            if opts["csv"]:
                opts["csv"].write_text(question_predictions_csv(question=question))
                self.stdout.write(f"wrote {opts['csv']}")
        except ApplicationError as exc:
            raise CommandError(exc.message) from None

    def _question(self, opts) -> NewQuestion:
        if opts["question"]:
            question = NewQuestion.objects.filter(pk=opts["question"]).first()
            if question is None:
                raise CommandError(f"no question {opts['question']}")
            return question
        workflow = Workflow.objects.filter(pk=opts["workflow"] or 0).first()
        if workflow is None or not (opts["key"] and opts["text"] and opts["answers"]):
            raise CommandError("give --question, or --workflow (an existing one), --key, --text and --answers")
        question = new_question_create(workflow=workflow, key=opts["key"], text=opts["text"],
                                       answers=[a.strip() for a in opts["answers"].split(",")])
        self.stdout.write(f"question {question.pk} ({question.key}) added")
        return question

    def _load(self, question: NewQuestion, path: Path) -> int:
        if not path.is_file():
            raise CommandError(f"no file {path}")
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or not {"subject", "answer"} <= set(rows[0]):
            raise CommandError(f"{path} needs a header with the columns subject and answer")
        ids = dict(Subject.objects.filter(workflow_id=question.workflow_id).values_list("external_id", "id"))
        with transaction.atomic():  # all rows or none
            for line, row in enumerate(tqdm(rows, desc="labels", unit="label"), start=2):
                subject = row["subject"].strip()
                subject_id = int(subject) if subject.isdigit() and subject not in ids else ids.get(subject)
                if subject_id is None:
                    raise CommandError(f"{path}, line {line}: no subject {subject!r} in this workflow")
                question_label_set(question=question, subject_id=subject_id, answer=row["answer"].strip())
        return len(rows)
