"""Project exceptions: errors a user can cause, with messages a person can act on."""
from __future__ import annotations


class IFCNError(Exception):
    """Base class of every error the project reports to the user (CLI prints it, GUI shows it)."""


class CheckpointError(IFCNError):
    """A checkpoint file is missing, unreadable, hostile or of another architecture."""


class ImageReadError(IFCNError):
    """An image or mask file cannot be read (missing, truncated, corrupt, too large, wrong kind)."""


class AnnotationFileError(IFCNError):
    """An annotation sidecar or mask on disk is malformed or of another schema."""


class DatasetError(IFCNError):
    """A dataset folder (VOC devkit, image/mask folder) is missing or incomplete."""


class ClassListError(IFCNError):
    """A class list file (classes.json, labels.txt) is unreadable, malformed or hostile."""
