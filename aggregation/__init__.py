"""zooloop's Bayesian aggregation engine: votes, boxes, retirement rules and a CLI.

Framework-free by design (house style G1): only numpy, scipy, pandas, PyMC and tqdm.
"""
