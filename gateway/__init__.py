"""storegw: the edge sensor gateway of a physical store."""

from gateway.buildinfo import version

__version__ = version()
