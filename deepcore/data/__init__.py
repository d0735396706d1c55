"""Data loading: datasets and a DataLoader that yields mini-batches of Tensors (PyTorch's torch.utils.data)."""
from .dataset import Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader, default_collate

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate"]
