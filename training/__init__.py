"""Training package: simulated clicks, VOC pair generation, datasets, training and the NoC benchmark.

Importing `training` loads nothing heavy; use the submodules (`training.sampling`, `training.voc`,
`training.synthetic`, `training.pairs`, `training.datasets`, ...).
"""
