"""The loop simulator: simulated volunteers on a synthetic survey, through the real platform services."""
from zooapp.services.simulation.crowd import CrowdConfig
from zooapp.services.simulation.plots import plots_write
from zooapp.services.simulation.run import SimulationConfig, report_write, simulation_run

__all__ = ["CrowdConfig", "SimulationConfig", "plots_write", "report_write", "simulation_run"]
