from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from zooapp.services.imports import (BOX_CONVENTIONS, EXPERT_MODES, ImportRejected, import_project,
                                    zooniverse_import)


class Command(BaseCommand):
    help = ("Import a Zooniverse classification export and its workflow export (CSV) or workflow-version JSON "
            "as a new workflow, then aggregate it.")

    def add_base_argument(self, parser, *args, **kwargs):
        if "--version" not in args:  # --version here names the Zooniverse workflow version, not Django's
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--classifications", type=Path, required=True)
        parser.add_argument("--workflows", type=Path, required=True)
        parser.add_argument("--workflow-id", type=int, default=None, help="Zooniverse workflow id")
        parser.add_argument("--version", default="", help="workflow version, e.g. 16 or 16.55 (default: latest)")
        parser.add_argument("--project", default="zooniverse-import", help="slug of the project to import into")
        parser.add_argument("--owner", default=None, help="owner of a new project (default: first superuser)")
        parser.add_argument("--box-convention", choices=BOX_CONVENTIONS, default="auto")
        parser.add_argument("--expert", choices=EXPERT_MODES, default="agent",
                            help="expert rows: an expert agent's votes (agent) or gold answers (gold)")
        parser.add_argument("--map-version", dest="map_versions", action="append", default=[],
                            help="also read rows of this Zooniverse version (e.g. 27 or 27.5; * for all) "
                                 "against the definition; repeat for several")
        parser.add_argument("--background", action="store_true",
                            help="queue the import on the exports queue (the worker must see the same files)")

    def handle(self, *args, **opts):
        for key in ("classifications", "workflows"):
            if not opts[key].is_file():
                raise CommandError(f"--{key}: {opts[key]} is not a file")
        try:
            project = import_project(slug=opts["project"], owner_username=opts["owner"])
            if opts["background"]:
                self._queue(project.pk, opts)
                return
            report = zooniverse_import(
                project_id=project.pk, classifications_path=opts["classifications"], workflows_path=opts["workflows"],
                zooniverse_workflow_id=opts["workflow_id"], version=opts["version"],
                box_convention=opts["box_convention"], expert=opts["expert"],
                map_versions=tuple(opts["map_versions"]))
        except ImportRejected as exc:
            raise CommandError(str(exc)) from None
        self._report(report)

    def _report(self, report) -> None:
        self.stdout.write(f"workflow {report.workflow.pk}{' (new)' if report.workflow_created else ''}: "
                          f"{report.n_subjects} new subjects, {report.n_classifications} new classifications, "
                          f"{report.n_already_imported} already imported, {report.n_duplicates} duplicates skipped, "
                          f"{report.n_gold_answers} new gold answers, {report.n_expert_votes} expert votes, "
                          f"{report.n_dropped_answers} answers not in the workflow")
        for version, n in sorted(report.versions.items()):
            self.stdout.write(f"  version {version}: {n} rows read against the definition")
        for version, n in sorted(report.unmapped_versions.items()):
            self.stdout.write(f"  version {version}: {n} rows NOT mapped, left out (use --map-version)")
        for what, n in report.dropped.most_common():
            self.stdout.write(f"  dropped {n} x {what}")
        if not report.changed:
            self.stdout.write("nothing new: the database is unchanged")

    def _queue(self, project_id: int, opts) -> None:
        from zooapp.tasks import import_zooniverse

        import_zooniverse.delay(project_id, str(opts["classifications"].resolve()), str(opts["workflows"].resolve()),
                                opts["workflow_id"], opts["version"], opts["box_convention"], opts["expert"],
                                list(opts["map_versions"]))
        self.stdout.write("import queued on the exports queue")
