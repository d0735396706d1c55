"""loss ops."""
__all__ = []
