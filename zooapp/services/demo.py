"""The demo project: a synthetic survey with truth, real SDSS cutouts, two FITS images and gold answers."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model

from aggregation.schema import galaxy_zoo_tree
from zooapp.models import Project, Workflow
from zooapp.services.projects import gold_answers_load, project_create, workflow_create
from zooapp.services.subjects import subject_set_ingest, subject_set_synthesize

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_TREE = galaxy_zoo_tree().to_dict()
DEMO_SYNTH_SIZE = 256  # pixels at 0.396 arcsec: an SDSS subject beside the real cutouts


def demo_project_load(*, admin_username: str, admin_password: str, n_synthetic: int, work_dir: Path,
                      seed: int = 0) -> Workflow:
    User = get_user_model()
    admin = User.objects.filter(username=admin_username).first()
    if admin is None:
        admin = User.objects.create_superuser(admin_username, f"{admin_username}@example.org", admin_password)
    # Made as any researcher's project is: the demo admin is its owner (and its owner member), and it is public.
    project = project_create(owner=admin, name="Galaxy Zoo: zooloop demo", visibility=Project.Visibility.PUBLIC,
                             description="Synthetic GalSim galaxies beside real SDSS cutouts.")
    workflow = workflow_create(project=project, name="Galaxy morphology and clumps", tree=DEMO_TREE,
                               retrain_every=50)
    subject_set_synthesize(workflow=workflow, name="Synthetic survey", n=n_synthetic, seed=seed,
                           out_dir=work_dir / "synthetic", n_gold=max(2, n_synthetic // 10),
                           band_frames_wanted=True, size=DEMO_SYNTH_SIZE)
    subject_set_ingest(workflow=workflow, name="SDSS DR7 cutouts", folder=DEMO_DIR / "sdss",
                       manifest=DEMO_DIR / "sdss" / "manifest.csv")
    gold_answers_load(workflow=workflow, path=DEMO_DIR / "sdss" / "gold.csv")
    subject_set_ingest(workflow=workflow, name="SDSS r-band FITS", folder=DEMO_DIR / "fits",
                       manifest=DEMO_DIR / "fits" / "manifest.csv")
    return workflow
