"""iFCN networks, click encoding, predictor and checkpoints (no Qt, no training code)."""
