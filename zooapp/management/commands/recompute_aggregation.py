from django.core.management.base import BaseCommand, CommandError

from zooapp.models import Workflow
from zooapp.services.aggregation import workflow_aggregate_all, workflow_recompute


class Command(BaseCommand):
    help = "Recompute every volunteer's reliability and every subject's posterior from the stored classifications."

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True)

    def handle(self, *args, **opts):
        if not Workflow.objects.filter(pk=opts["workflow"]).exists():
            raise CommandError(f"workflow {opts['workflow']} does not exist")
        pending = workflow_aggregate_all(workflow_id=opts["workflow"])
        diff = workflow_recompute(workflow_id=opts["workflow"])
        changed = sum(len(v) for v in diff.values())
        self.stdout.write(f"aggregated {pending} pending classifications; recompute changed {changed} values")
        for part, keys in diff.items():
            if keys:
                self.stdout.write(f"  {part}: {', '.join(keys[:20])}")
