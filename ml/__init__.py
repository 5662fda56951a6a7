"""Machine learning for zooloop: synthetic survey, classifier, clump detector, active learning.

Imports point one way (house style G1): this package uses torch, torchvision,
numpy, pandas, PIL and galsim, and from our own code only ``aggregation.schema``.
It never imports Django.
"""
