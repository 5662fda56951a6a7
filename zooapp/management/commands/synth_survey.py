from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from zooapp.models import Workflow
from zooapp.errors import ValidationFailed
from zooapp.services.subjects import subject_set_synthesize


class Command(BaseCommand):
    help = "Render a synthetic GalSim survey (truth stored apart) into a workflow."

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True)
        parser.add_argument("--n", type=int, default=100)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--gold", type=int, default=0, help="how many of them become gold subjects")
        parser.add_argument("--name", default="Synthetic survey")
        parser.add_argument("--size", type=int, default=256, help="image side in pixels (0.396 arcsec each)")

    def handle(self, *args, **opts):
        workflow = Workflow.objects.filter(pk=opts["workflow"]).first()
        if workflow is None:
            raise CommandError(f"workflow {opts['workflow']} does not exist")
        if opts["n"] < 1 or opts["gold"] < 0 or opts["gold"] > opts["n"]:
            raise CommandError("--n must be positive and 0 <= --gold <= --n")
        if opts["size"] < 16:
            raise CommandError("--size must be at least 16 pixels")
        out = Path(settings.VAR_DIR) / "synth" / f"workflow-{workflow.pk}-seed-{opts['seed']}-size-{opts['size']}"
        try:
            subject_set = subject_set_synthesize(workflow=workflow, name=opts["name"], n=opts["n"], seed=opts["seed"],
                                                 out_dir=out, n_gold=opts["gold"], band_frames_wanted=True,
                                                 size=opts["size"])
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"Subject set {subject_set.pk}: {opts['n']} synthetic galaxies."))
