from django.core.management.base import BaseCommand, CommandError

from zooapp.models import Workflow
from zooapp.services.engine_refit import workflow_engine_refit


class Command(BaseCommand):
    help = ("Fit the hierarchical population prior of volunteer skill and the box-worker parameters, "
            "store them on the workflow, and recompute the online state with them.")

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True)
        parser.add_argument("--iterations", type=int, default=5000, help="ADVI iterations")

    def handle(self, *args, **opts):
        if not Workflow.objects.filter(pk=opts["workflow"]).exists():
            raise CommandError(f"workflow {opts['workflow']} does not exist")
        if opts["iterations"] < 100:
            raise CommandError("--iterations must be at least 100")
        summary = workflow_engine_refit(workflow_id=opts["workflow"], n_iter=opts["iterations"])
        self.stdout.write(self.style.SUCCESS(f"refitted: {summary}"))
