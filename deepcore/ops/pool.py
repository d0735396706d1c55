"""pool ops."""
__all__ = []
