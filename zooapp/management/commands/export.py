from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from zooapp.models import Workflow
from zooapp.services.exports import FORMATS, SUFFIX, ExportOptions, ExportRejected, export_file_write


class Command(BaseCommand):
    help = ("Write a workflow's catalogue (FITS, VOTable, ECSV, CSV), clump catalogue, COCO boxes or "
            "Zooniverse-format classifications.")

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True)
        parser.add_argument("--kind", choices=list(FORMATS), default="catalogue")
        parser.add_argument("--format", dest="formats", action="append", default=None,
                            help="repeat for several; default: every format of the kind")
        parser.add_argument("--out", type=Path, default=None)
        parser.add_argument("--retired-only", "--retired", action="store_true",
                            help="catalogue and classifications: only retired subjects")
        parser.add_argument("--include-unclassified", action="store_true",
                            help="catalogue: also subjects nobody has classified (NaN fractions and posteriors)")
        parser.add_argument("--workflow-version", type=int, default=None,
                            help="classifications: only those made with this workflow version number")

    def handle(self, *args, **opts):
        workflow = Workflow.objects.filter(pk=opts["workflow"]).first()
        if workflow is None:
            raise CommandError(f"workflow {opts['workflow']} does not exist")
        out = opts["out"] or Path(settings.ZOOLOOP_EXPORT_DIR)
        options = ExportOptions(retired_only=opts["retired_only"], workflow_version=opts["workflow_version"],
                                include_unclassified=opts["include_unclassified"])
        for fmt in opts["formats"] or FORMATS[opts["kind"]]:
            path = out / f"workflow-{workflow.pk}-{opts['kind']}{SUFFIX.get(fmt, '')}"
            try:
                n = export_file_write(workflow=workflow, kind=opts["kind"], fmt=fmt, path=path, options=options)
            except ExportRejected as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{path} ({n} rows)")
