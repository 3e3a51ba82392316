"""The one error the store raises: the database cannot be reached or is not usable by NOVA."""

__all__ = ["StoreError"]


class StoreError(RuntimeError):
    """The database cannot be reached or is not usable by NOVA (message says why)."""
