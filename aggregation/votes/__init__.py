"""Batch vote aggregators: majority vote, Dawid-Skene EM and the hierarchical Bayesian model."""
