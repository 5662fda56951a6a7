from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from zooapp.errors import ApplicationError
from zooapp.models import Workflow
from zooapp.services.releases import release_write


class Command(BaseCommand):
    help = ("Write a versioned data release of a workflow: every catalogue in every format, the data model, "
            "provenance (engine, models, rules, workflow versions) and how to cite it.")

    def add_base_argument(self, parser, *args, **kwargs):
        if "--version" not in args:  # --version here names the release, not Django's
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True)
        parser.add_argument("--version", required=True, help="release version, e.g. 1.0")
        parser.add_argument("--out", type=Path, default=None, help="parent folder (default: ZOOLOOP_EXPORT_DIR)")
        parser.add_argument("--authors", default="The zooloop volunteers")

    def handle(self, *args, **opts):
        workflow = Workflow.objects.filter(pk=opts["workflow"]).first()
        if workflow is None:
            raise CommandError(f"workflow {opts['workflow']} does not exist")
        try:
            folder = release_write(workflow=workflow, release=opts["version"],
                                   out_dir=opts["out"] or Path(settings.ZOOLOOP_EXPORT_DIR), authors=opts["authors"])
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"release written to {folder}")
