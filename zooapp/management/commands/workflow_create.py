"""manage.py workflow_create --project P --tree TREE.json [--name N] [--launch]: a workflow from a tree file.

The tree is checked as the browser editor checks it; TREE may be our JSON, the Galaxy Zoo 2 schema
(shared/data/gz2_decision_tree/gz2_tree.json) or a Zooniverse workflows.csv export.
"""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from zooapp.errors import ApplicationError
from zooapp.models import Project
from zooapp.services.workflows import tree_load, workflow_import


class Command(BaseCommand):
    help = "Create and publish a workflow from a task-tree file (JSON, GZ2 JSON or Zooniverse workflows.csv)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project id or slug")
        parser.add_argument("--tree", required=True, type=Path)
        parser.add_argument("--name", default="", help="workflow name (default: the file's name)")
        parser.add_argument("--zooniverse-workflow", type=int, default=None,
                            help="which workflow of a workflows.csv (default: the latest version of the only one)")
        parser.add_argument("--launch", action="store_true", help="make it active at once (needs subjects)")

    def handle(self, *args, project, tree, name, zooniverse_workflow, launch, **options):
        found = Project.objects.filter(slug=project).first() or (
            Project.objects.filter(pk=int(project)).first() if project.isdigit() else None)
        if found is None:
            raise CommandError(f"no project {project!r} (give its id or slug)")
        if not tree.is_file():
            raise CommandError(f"no file {tree}")
        try:
            checked = tree_load(path=tree, zooniverse_workflow_id=zooniverse_workflow)
            workflow = workflow_import(project=found, name=name or tree.stem, tree=checked, launch=launch)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"workflow {workflow.pk} ({workflow.name}): {len(checked['tasks'])} tasks, "
                          f"version 1, {workflow.status}")
