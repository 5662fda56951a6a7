from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from zooapp.models import Workflow
from zooapp.services.projects import gold_answers_load
from zooapp.services.subjects import IngestError, subject_set_ingest


class Command(BaseCommand):
    help = "Ingest a folder of PNG/JPEG/FITS cutouts with a manifest CSV (id, file, ra, dec, any metadata)."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--manifest", type=Path, help="default: FOLDER/manifest.csv")
        parser.add_argument("--workflow", type=int, required=True)
        parser.add_argument("--name", help="subject set name (default: the folder's name)")
        parser.add_argument("--gold", type=Path, help="CSV of gold answers: id, task, value")

    def handle(self, *args, **opts):
        workflow = Workflow.objects.filter(pk=opts["workflow"]).first()
        if workflow is None:
            raise CommandError(f"workflow {opts['workflow']} does not exist")
        folder = opts["folder"]
        manifest = opts["manifest"] or folder / "manifest.csv"
        try:
            subject_set = subject_set_ingest(workflow=workflow, name=opts["name"] or folder.name, folder=folder,
                                             manifest=manifest, progress=lambda rows: tqdm(rows, desc="images"))
            n_gold = gold_answers_load(workflow=workflow, path=opts["gold"]) if opts["gold"] else 0
        except (IngestError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Subject set {subject_set.pk}: {subject_set.subjects.count()} subjects, {n_gold} gold answers."))
