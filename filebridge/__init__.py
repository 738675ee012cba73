"""filebridge: ERP exports in, shop import files and ERP feedback out, one profile per flow."""

__version__ = "0.1.0"

__all__ = ["__version__"]
