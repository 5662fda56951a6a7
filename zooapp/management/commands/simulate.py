"""manage.py simulate: compare retirement policies on a synthetic survey with a crowd from a crowd file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from zooapp.services.simulation import SimulationConfig, plots_write, report_write, reports_merge, simulation_run
from zooapp.services.simulation.run import ALL_POLICIES, simulation_crowd


class Command(BaseCommand):
    help = ("Run the real platform (queue, engine, retirement, classifier) with simulated volunteers on a "
            "synthetic survey, once per policy, and write report.json and plots. The crowd comes from a crowd "
            "file (aggregation/crowd/*.toml) or a replay of recorded votes. Big runs: --jobs N runs each policy "
            "in its own process and SQLite file; see docs/BENCHMARKS.md.")

    def add_arguments(self, parser):
        parser.add_argument("--galaxies", type=int, default=200, help="survey galaxies (gold comes on top)")
        parser.add_argument("--gold", type=int, default=None, help="gold galaxies (default 2%%, at least 10)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--policies", default=",".join(ALL_POLICIES))
        parser.add_argument("--crowd", default=None, help="crowd file, .toml or .json (default: gz2_like.toml)")
        parser.add_argument("--replay", default=None, metavar="VOTES.csv", help="replay recorded votes instead")
        parser.add_argument("--truth", default=None, metavar="TRUTH.csv", help="truth of the replayed tasks")
        parser.add_argument("--fixed-n", type=int, default=40, help="votes per galaxy of the fixed_n policy")
        parser.add_argument("--retrain-every", type=int, default=500, help="human classifications per retraining")
        parser.add_argument("--machine-threshold", type=float, default=0.9)
        parser.add_argument("--rules", default=None, help="retirement rules as JSON (default: the platform's)")
        parser.add_argument("--gold-rate", default="0.4,0.1", help="gold share at the start and in the end")
        parser.add_argument("--concurrency", type=int, default=None, help="volunteers at once (default: crowd file)")
        parser.add_argument("--batch", type=int, default=1,
                            help="volunteers per aggregation run (default 1: each vote aggregated before the next)")
        parser.add_argument("--max-per-galaxy", type=int, default=60, help="budget: classifications per galaxy")
        parser.add_argument("--jobs", type=int, default=1, help="processes: each policy in its own SQLite file")
        parser.add_argument("--bar-position", type=int, default=0, help="progress bar line (set by --jobs)")
        parser.add_argument("--out", default=None, help="output folder (default var/simulations/<seed>-<n>)")
        parser.add_argument("--keep", action="store_true", help="keep the simulation project in the database")
        parser.add_argument("--migrate", action="store_true", help="migrate the database first (fresh files)")

    def handle(self, *args, **opts):
        config = self._config(opts)  # a bad crowd or replay file stops here, before anything runs
        out = Path(opts["out"] or Path(settings.VAR_DIR) / "simulations" / f"seed-{config.seed}-n-{config.n_galaxies}")
        if opts["jobs"] > 1 and len(config.policies) > 1:
            report = _run_in_processes(config.policies, opts, out)
        else:
            if opts["migrate"]:
                from django.core.management import call_command

                call_command("migrate", verbosity=0)
            report = simulation_run(config=config, keep=opts["keep"])
        path = report_write(report=report, out_dir=out)
        plots_write(report=report, out_dir=out)
        for name, policy in report["policies"].items():
            self.stdout.write(_line(name, policy))
        self.stdout.write(self.style.SUCCESS(f"Report: {path}"))

    def _config(self, opts) -> SimulationConfig:
        try:
            start, end = (float(x) for x in opts["gold_rate"].split(","))
            crowd, replay = simulation_crowd(crowd=opts["crowd"], replay=opts["replay"], truth=opts["truth"])
            return SimulationConfig(
                n_galaxies=opts["galaxies"], seed=opts["seed"],
                n_gold=opts["gold"] if opts["gold"] is not None else max(10, opts["galaxies"] // 50),
                policies=tuple(p.strip() for p in opts["policies"].split(",") if p.strip()),
                rules=json.loads(opts["rules"]) if opts["rules"] else None, fixed_n=opts["fixed_n"],
                retrain_every=opts["retrain_every"], machine_threshold=opts["machine_threshold"],
                gold_rate_start=start, gold_rate_end=end, concurrency=opts["concurrency"],
                max_steps_per_galaxy=opts["max_per_galaxy"], batch=opts["batch"], crowd=crowd, replay=replay, progress=True,
                bar_position=opts["bar_position"])
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from None


def _run_in_processes(policies: tuple[str, ...], opts: dict, out: Path) -> dict:
    """One child ``manage.py simulate`` per policy, each with its own SQLite file; their reports merged."""
    children = []
    for position, policy in enumerate(policies):  # a fresh database per child: SQLite has one writer
        folder = out / "jobs" / policy
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'sim.sqlite3'}",
               "MEDIA_ROOT": str(folder / "media"), "ZOOLOOP_MODEL_DIR": str(folder / "models"),
               }
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "simulate", "--migrate",
                "--policies", policy, "--out", str(folder), "--bar-position", str(position), *_passed_on(opts)]
        if len(children) >= opts["jobs"]:  # at most --jobs at once
            children[-opts["jobs"]].wait()
        children.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL))
    failed = [p for p, child in zip(policies, children) if child.wait() != 0]
    if failed:
        raise CommandError(f"policies {failed} failed; see their output above")
    return reports_merge(reports=[json.loads((out / "jobs" / p / "report.json").read_text()) for p in policies])


def _passed_on(opts: dict) -> list[str]:
    flags = ("galaxies", "gold", "seed", "crowd", "replay", "truth", "fixed_n", "retrain_every",
             "machine_threshold", "rules", "gold_rate", "concurrency", "max_per_galaxy", "batch")
    argv = []
    for flag in flags:
        if opts.get(flag) is not None:
            argv += [f"--{flag.replace('_', '-')}", str(opts[flag])]
    return argv


def _line(name: str, policy: dict) -> str:
    t0 = policy["questions"].get("T0", {})
    return (f"{name:12s} retired {policy['n_retired']}/{policy['n_survey']}  "
            f"human/retired {_fmt(policy['human_per_retired'])}  effort/retired {_fmt(policy['effort_per_retired'])}  "
            f"T0 accuracy {_fmt(t0.get('accuracy'), 4)}  ECE {_fmt(policy['calibration']['ece'], 4)}  "
            f"box F1 {_fmt((policy['boxes'] or {}).get('f1'), 3)}  90% at {policy['steps_to_retire_90']}  "
            f"wall {policy['seconds']}s  CPU {policy.get('cpu_seconds', '-')}s\n{'':12s} accuracy / majority of "
            "the same votes: " + "  ".join(f"{task} {_fmt(s['accuracy'], 3)} / {_fmt(s['majority_accuracy'], 3)}"
                                           for task, s in policy.get("against_majority", {}).items()))


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
