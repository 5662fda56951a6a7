"""The loop simulator: simulated volunteers on a synthetic survey, through the real platform services."""
from zooapp.services.simulation.plots import plots_write
from zooapp.services.simulation.run import SimulationConfig, report_write, reports_merge, simulation_run

__all__ = ["SimulationConfig", "plots_write", "report_write", "reports_merge", "simulation_run"]
