"""Witness (见证): audio/video records of administrative law enforcement."""

__version__ = "0.1.0"
