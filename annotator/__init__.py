"""The click-to-mask annotator GUI (PyQt5) built on the `models` package."""
