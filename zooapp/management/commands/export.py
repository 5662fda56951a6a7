from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from zooapp.models import Workflow
from zooapp.services.exports import catalogue_export


class Command(BaseCommand):
    help = "Write the catalogue of retired subjects as CSV and FITS."

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True)
        parser.add_argument("--out", type=Path, default=None)
        parser.add_argument("--all", action="store_true", help="include subjects not yet retired")

    def handle(self, *args, **opts):
        workflow = Workflow.objects.filter(pk=opts["workflow"]).first()
        if workflow is None:
            raise CommandError(f"workflow {opts['workflow']} does not exist")
        paths = catalogue_export(workflow=workflow, out_dir=opts["out"] or Path(settings.ZOOLOOP_EXPORT_DIR),
                                 retired_only=not opts["all"])
        for path in paths:
            self.stdout.write(str(path))
