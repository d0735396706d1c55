"""embedding ops."""
__all__ = []
