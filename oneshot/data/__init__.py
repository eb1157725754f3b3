"""Datasets as resident tensors with train / search-validation / test splits."""
from .sources import (DatasetNotFoundError, build_data, load_arrays, load_cifar10, load_digits,
                      load_imagefolder, load_synthetic)
from .tensors import ImageData, Split, augment

__all__ = ["DatasetNotFoundError", "ImageData", "Split", "augment", "build_data", "load_arrays",
           "load_cifar10", "load_digits", "load_imagefolder", "load_synthetic"]
