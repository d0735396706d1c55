"""norm ops."""
__all__ = []
