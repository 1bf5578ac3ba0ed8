"""sourcegrad's version: what ``sourcegrad.__version__`` is, and what an export's header names
(read here, below every layer, so that no module imports the package itself for it)."""

__version__ = "0.1.0"
