"""Reading the JSON progress lines that `ifcn train` / `ifcn noc` write (format: training/progress.py).

Lives in `models` because both sides need it: training writes the stream, the GUI (which may not import
`training`) reads it from a child process.
"""
from __future__ import annotations

import json
from typing import Any


def parse_line(line: str) -> dict[str, Any] | None:
    """Parse one stream line; None for blank or non-JSON lines (e.g. stray library output)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and "event" in obj else None
