from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from zooapp.models import Project
from zooapp.services.demo import demo_project_load


class Command(BaseCommand):
    help = "Load the demo project: synthetic GalSim galaxies, real SDSS cutouts and FITS images, and an admin login."

    def add_arguments(self, parser):
        parser.add_argument("--synthetic", type=int, default=120, help="number of synthetic galaxies")
        parser.add_argument("--admin", default="admin")
        parser.add_argument("--password", default="zooloop-admin")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--if-empty", action="store_true", help="do nothing when a project already exists")

    def handle(self, *args, **opts):
        if opts["if_empty"] and Project.objects.exists():
            self.stdout.write("A project already exists; demo not reloaded.")
            return
        workflow = demo_project_load(admin_username=opts["admin"], admin_password=opts["password"],
                                     n_synthetic=opts["synthetic"], work_dir=Path(settings.VAR_DIR) / "demo",
                                     seed=opts["seed"])
        self.stdout.write(self.style.SUCCESS(
            f"Demo loaded: workflow {workflow.pk} with {workflow.subjects.count()} subjects."))
