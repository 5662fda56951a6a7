from django.core.management.base import BaseCommand, CommandError

from zooapp.errors import ApplicationError
from zooapp.models import ModelVersion
from zooapp.services.embeddings import embeddings_refresh


class Command(BaseCommand):
    help = ("Embed a project's subjects with a classifier version's encoder (the serving one by default), "
            "for more like this, tag search, anomaly sessions and new questions.")

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True, help="the workflow whose classifier embeds")
        parser.add_argument("--model-version", type=int, default=None,
                            help="classifier version number (default: the serving one)")
        parser.add_argument("--all", action="store_true", help="recompute existing embeddings too")

    def handle(self, *args, **opts):
        versions = ModelVersion.objects.filter(workflow_id=opts["workflow"], kind=ModelVersion.Kind.CLASSIFIER)
        number = opts["model_version"]
        version = (versions.filter(number=number) if number else versions.filter(serving=True)).first()
        if version is None:
            which = f"classifier version {number}" if number else "serving classifier"
            raise CommandError(f"workflow {opts['workflow']} has no {which}; train one first "
                               "(or name a version with --model-version)")
        try:
            n = embeddings_refresh(model_version_id=version.pk, progress=True, only_missing=not opts["all"])
        except (ApplicationError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"embedded {n} subjects with classifier version {version.number}")
