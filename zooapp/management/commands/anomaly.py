import argparse
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from zooapp.errors import ApplicationError
from zooapp.models import AnomalySession, Workflow
from zooapp.services.anomaly import anomaly_export_csv, anomaly_label_set, anomaly_ranking, anomaly_session_create


def _mark(text: str) -> tuple[int, bool]:
    subject, _, value = text.partition("=")
    if not subject.isdigit() or value not in {"1", "0"}:
        raise argparse.ArgumentTypeError(f"--mark takes SUBJECT_ID=1 (interesting) or SUBJECT_ID=0 (not), got {text!r}")
    return int(subject), value == "1"


class Command(BaseCommand):
    help = ("Anomaly sessions: start one (--workflow --user), mark galaxies (--session --mark ID=1|0), "
            "print the galaxies to judge next and the top N, or write the top N as CSV (--csv).")

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, help="start a session on this workflow")
        parser.add_argument("--user", help="the researcher who owns the new session")
        parser.add_argument("--name", default="")
        parser.add_argument("--session", type=int, help="an existing session")
        parser.add_argument("--mark", action="append", default=[], type=_mark, metavar="ID=1|0")
        parser.add_argument("--top", type=int, default=20)
        parser.add_argument("--csv", type=Path, default=None, help="write the top N here")

    def handle(self, *args, **opts):
        try:
            session = self._session(opts)
            for subject_id, interesting in opts["mark"]:
                anomaly_label_set(session=session, subject_id=subject_id, interesting=interesting)
            if opts["csv"]:
                opts["csv"].write_text(anomaly_export_csv(session=session, n=opts["top"]))
                self.stdout.write(f"session {session.pk}: wrote the top {opts['top']} to {opts['csv']}")
                return
            ranking = anomaly_ranking(session=session, n_top=opts["top"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"session {session.pk} ({session.name}), {ranking.n_labels} judged")
        self.stdout.write("judge next: " + " ".join(str(r.subject_id) for r in ranking.to_label))
        for rank, r in enumerate(ranking.top, start=1):
            label = "" if r.label is None else ("interesting" if r.label else "not interesting")
            self.stdout.write(f"{rank}\t{r.subject_id}\t{r.score:.3f} ± {r.std:.3f}\t{label}")

    def _session(self, opts) -> AnomalySession:
        if opts["session"]:
            session = AnomalySession.objects.filter(pk=opts["session"]).first()
            if session is None:
                raise CommandError(f"no anomaly session {opts['session']}")
            return session
        if not (opts["workflow"] and opts["user"]):
            raise CommandError("give --session, or --workflow and --user to start a session")
        workflow = Workflow.objects.filter(pk=opts["workflow"]).first()
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if workflow is None or user is None:
            raise CommandError(f"no workflow {opts['workflow']}" if workflow is None else f"no user {opts['user']!r}")
        return anomaly_session_create(workflow=workflow, owner=user, name=opts["name"])
