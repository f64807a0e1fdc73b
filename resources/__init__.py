"""Package data: icons, palette, default settings, sample images and shipped weights."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WEIGHTS = ROOT / "weights"
SAMPLES = ROOT / "samples"
DEFAULT_CHECKPOINT = WEIGHTS / "default.pt"
