"""The machine in the loop, by concern.

* `versions`: numbering, files, the serving flag and the serve-if-at-least-as-good rule, for both kinds;
* `holdout`: the common held-out set every classifier version is judged and calibrated on;
* `calibration`: held-out histogram calibration of the classifier's probabilities;
* `classifier`: the training set, training, and judging a version;
* `serving`: predicting on active galaxies, storing, re-ranking, voting and retiring;
* `agent`: the machine's measured confusion and its votes;
* `detector`: the clump detector's training and serving.

Import the submodules directly: `classifier`, `serving` and `detector` load torch, so only processes that
train or predict import them.
"""
