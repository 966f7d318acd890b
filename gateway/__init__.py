"""storegw: the edge sensor gateway of a physical store."""

from importlib import metadata

try:
    __version__ = metadata.version("storegw")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"
