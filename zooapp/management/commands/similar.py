from django.core.management.base import BaseCommand, CommandError

from zooapp.errors import ApplicationError
from zooapp.models import Subject
from zooapp.services.embeddings import subjects_similar_to


class Command(BaseCommand):
    help = "The galaxies most like one or more galaxies (mean embedding), best first."

    def add_arguments(self, parser):
        parser.add_argument("--subject", type=int, action="append", required=True, help="repeat for several")
        parser.add_argument("--k", type=int, default=20)
        parser.add_argument("--workflow", type=int, default=None, help="only this workflow's galaxies")
        parser.add_argument("--status", choices=Subject.Status.values, default=None)

    def handle(self, *args, **opts):
        try:
            found = subjects_similar_to(subject_ids=opts["subject"], k=opts["k"], workflow_id=opts["workflow"],
                                        status=opts["status"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if not found:
            raise CommandError("no embeddings yet: run `manage.py embeddings_refresh --workflow N` first")
        external = dict(Subject.objects.filter(pk__in=[i for i, _ in found]).values_list("id", "external_id"))
        self.stdout.write("rank\tsubject_id\texternal_id\tsimilarity")
        for rank, (subject_id, score) in enumerate(found, start=1):
            self.stdout.write(f"{rank}\t{subject_id}\t{external[subject_id]}\t{score:.4f}")
