"""manage.py simulate: compare retirement policies on a synthetic survey with simulated volunteers."""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from zooapp.services.simulation import CrowdConfig, SimulationConfig, plots_write, report_write, simulation_run
from zooapp.services.simulation.run import ALL_POLICIES


class Command(BaseCommand):
    help = ("Run the real platform (queue, engine, retirement, classifier) with simulated volunteers on a "
            "synthetic survey, once per policy, and write report.json and plots. Big runs: point DATABASE_URL "
            "at a fresh SQLite file (the command migrates it); see docs/BENCHMARKS.md.")

    def add_arguments(self, parser):
        parser.add_argument("--galaxies", type=int, default=200, help="survey galaxies (gold comes on top)")
        parser.add_argument("--gold", type=int, default=None, help="gold galaxies (default 2%%, at least 10)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--policies", default=",".join(ALL_POLICIES))
        parser.add_argument("--fixed-n", type=int, default=40, help="votes per galaxy of the fixed_n policy")
        parser.add_argument("--retrain-every", type=int, default=500, help="human classifications per retraining")
        parser.add_argument("--machine-threshold", type=float, default=0.9)
        parser.add_argument("--rules", default=None, help="retirement rules as JSON (default: the platform's)")
        parser.add_argument("--gold-rate", default="0.4,0.1", help="gold share at the start and in the end")
        parser.add_argument("--concurrency", type=int, default=20, help="volunteers active at once")
        parser.add_argument("--session-median", type=float, default=8.0, help="median classifications per volunteer")
        parser.add_argument("--skill", default="0.80,0.95", help="range of a decent volunteer's T0 accuracy")
        parser.add_argument("--shares", default="0.72,0.13,0.10,0.05",
                            help="shares of decent, learner, careless and adversarial volunteers")
        parser.add_argument("--max-per-galaxy", type=int, default=60, help="budget: classifications per galaxy")
        parser.add_argument("--out", default=None, help="output folder (default var/simulations/<seed>-<n>)")
        parser.add_argument("--keep", action="store_true", help="keep the simulation project in the database")
        parser.add_argument("--migrate", action="store_true", help="migrate the database first (fresh files)")

    def handle(self, *args, **opts):
        if opts["migrate"]:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
        config = self._config(opts)
        out = Path(opts["out"] or Path(settings.VAR_DIR) / "simulations" / f"seed-{config.seed}-n-{config.n_galaxies}")
        report = simulation_run(config=config, keep=opts["keep"])
        path = report_write(report=report, out_dir=out)
        plots_write(report=report, out_dir=out)
        for name, policy in report["policies"].items():
            t0 = policy["questions"].get("T0", {})
            self.stdout.write(f"{name:12s} retired {policy['n_retired']}/{policy['n_survey']}  "
                              f"human/retired {_fmt(policy['human_per_retired'])}  "
                              f"effort/retired {_fmt(policy['effort_per_retired'])}  "
                              f"T0 accuracy {_fmt(t0.get('accuracy'), 4)}  "
                              f"ECE {_fmt(policy['calibration']['ece'], 4)}  "
                              f"box F1 {_fmt((policy['boxes'] or {}).get('f1'), 3)}  "
                              f"90% at {policy['steps_to_retire_90']}")
        self.stdout.write(self.style.SUCCESS(f"Report: {path}"))

    def _config(self, opts) -> SimulationConfig:
        try:
            start, end = _floats(opts["gold_rate"])
            return SimulationConfig(
                n_galaxies=opts["galaxies"], seed=opts["seed"],
                n_gold=opts["gold"] if opts["gold"] is not None else max(10, opts["galaxies"] // 50),
                policies=tuple(p.strip() for p in opts["policies"].split(",") if p.strip()),
                rules=json.loads(opts["rules"]) if opts["rules"] else None, fixed_n=opts["fixed_n"],
                retrain_every=opts["retrain_every"], machine_threshold=opts["machine_threshold"],
                gold_rate_start=start, gold_rate_end=end, concurrency=opts["concurrency"],
                max_steps_per_galaxy=opts["max_per_galaxy"],
                crowd=CrowdConfig(session_median=opts["session_median"], skill_range=_floats(opts["skill"]),
                                  shares=_floats(opts["shares"])), progress=True)
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from None


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
