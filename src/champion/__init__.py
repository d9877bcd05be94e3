"""champion: keep a production tabular model healthy on its own."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("champion")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
