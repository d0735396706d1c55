"""dropout ops."""
__all__ = []
