"""Dataset sources, each returning :class:`ImageData` with train / val / test splits."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .tensors import ImageData, Split, _seeded
from ..errors import OneshotError, UserInputError

log = logging.getLogger(__name__)

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DatasetNotFoundError(OneshotError, FileNotFoundError):
    """A dataset's files are missing; the message says how to get them."""


def _hwc_to_split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).contiguous(),
                 torch.from_numpy(np.asarray(y, dtype=np.int64)))


def _resize(split: Split, size: int | None, channels: int | None) -> Split:
    x = split.x
    if channels and x.shape[1] != channels:
        if x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        else:
            raise ValueError(f"cannot turn {x.shape[1]}-channel images into {channels} channels")
    if size and (x.shape[2] != size or x.shape[3] != size):
        x = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False)
        x = x.round().clamp(0, 255).to(torch.uint8)
    return Split(x.contiguous(), split.y)


def _limit(split: Split, count: int | None, seed: int, salt: int) -> Split:
    if count is None or count >= len(split):
        return split
    if count < 1:
        raise ValueError(f"image count must be >= 1, got {count}")
    idx = torch.randperm(len(split), generator=_seeded(seed, salt))[:count]
    return split.subset(idx.sort().values)


def split_train_val(train: Split, val_images: int, seed: int) -> tuple[Split, Split]:
    """Carve a seeded search-validation split out of the training images."""
    if not 0 < val_images < len(train):
        raise ValueError(f"val_images={val_images} must be between 1 and the {len(train) - 1} training images")
    perm = torch.randperm(len(train), generator=_seeded(seed, 31337))
    return train.subset(perm[val_images:].sort().values), train.subset(perm[:val_images].sort().values)


def finish(name: str, train: Split, test: Split, num_classes: int, mean: Sequence[float], std: Sequence[float],
           *, val_images: int, train_images: int | None, test_images: int | None, size: int | None,
           channels: int | None, seed: int, augment: Sequence[str], info: dict | None = None) -> ImageData:
    train, val = split_train_val(train, val_images, seed)
    train = _limit(train, train_images, seed, 1)
    test = _limit(test, test_images, seed, 2)
    train, val, test = (_resize(s, size, channels) for s in (train, val, test))
    if channels and len(mean) != channels:
        mean, std = tuple(mean) * channels, tuple(std) * channels
    data = ImageData(name, train, val, test, num_classes, tuple(mean), tuple(std), tuple(augment), info=info or {})
    log.info("data %s: %d train / %d val / %d test images of shape %s", name, len(train), len(val),
             len(test), data.image_shape)
    return data


def load_digits(*, size: int | None = 32, channels: int | None = 3, val_images: int = 300,
                test_images: int | None = 297, train_images: int | None = None, seed: int = 0,
                augment: Sequence[str] = ("crop",)) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images, offline), resized."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = np.clip(bunch.images * 16, 0, 255).astype(np.uint8)[:, :, :, None]
    full = _hwc_to_split(x, bunch.target)
    test_n = test_images or 297
    perm = torch.randperm(len(full), generator=_seeded(seed, 4242))
    test, train = full.subset(perm[:test_n].sort().values), full.subset(perm[test_n:].sort().values)
    return finish("digits", train, test, 10, (0.3,), (0.35,), val_images=val_images, train_images=train_images,
                  test_images=None, size=size, channels=channels, seed=seed, augment=augment)


def load_arrays(path: "str | Path", *, size: int | None = None, channels: int | None = None,
                val_images: int = 5000, train_images: int | None = None, test_images: int | None = None,
                seed: int = 0, augment: Sequence[str] = ("crop", "flip"), num_classes: int | None = None,
                mean: Sequence[float] = CIFAR_MEAN, std: Sequence[float] = CIFAR_STD) -> ImageData:
    """Images + labels from an ``.npz``: ``x`` uint8 N x H x W x C, ``y``, optional ``split`` (0 train, 1 test)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(
            f"arrays file {path} not found: pass data.path=<file.npz> (the offline CIFAR-10 copy lives at "
            "../shared/data/cifar10/cifar10_from_jpeg.npz)"
        )
    x, y, split = _read_npz(path)
    if split is None:
        rng = np.random.default_rng(seed)
        split = (rng.random(len(y)) < 1 / 6).astype(np.int8)
    train = _hwc_to_split(x[split == 0], y[split == 0])
    test = _hwc_to_split(x[split == 1], y[split == 1])
    classes = num_classes or int(y.max()) + 1
    return finish(path.stem, train, test, classes, mean, std, val_images=val_images, train_images=train_images,
                  test_images=test_images, size=size, channels=channels, seed=seed, augment=augment,
                  info={"path": str(path)})


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``x``, ``y`` and the optional ``split`` of an arrays file, or a UserInputError saying what is wrong."""
    import zipfile

    def bad(reason: str) -> UserInputError:
        return UserInputError(f"data.path={path} is not a valid arrays file: {reason}; it must be an .npz "
                              "(numpy.savez) with uint8 'x' of shape N,H,W,C and integer labels 'y' of length N")

    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise bad("it holds a single array, not named arrays")
            missing = [k for k in ("x", "y") if k not in f.files]
            if missing:
                raise bad(f"no {' or '.join(repr(k) for k in missing)} array (it has {f.files})")
            x, y = f["x"], f["y"]
            split = f["split"] if "split" in f.files else None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise bad(f"not a readable .npz archive ({type(e).__name__}: {e})") from None
    except ValueError:  # numpy refuses pickled content when allow_pickle=False; never unpickle it
        raise bad("it is not an .npz archive of plain arrays (pickled Python objects are never loaded)") from None
    if x.dtype != np.uint8 or x.ndim != 4:
        raise bad(f"'x' is {x.dtype} of shape {x.shape}")
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise bad(f"'y' is {y.dtype} of shape {y.shape} for {len(x)} images")
    if split is not None and (split.shape != y.shape or not np.isin(split, (0, 1)).all()):
        raise bad(f"'split' must hold 0 (train) or 1 (test) per image, got {split.dtype} of shape {split.shape}")
    return x, y, split


def load_cifar10(root: "str | Path", *, download: bool = False, size: int | None = None,
                 val_images: int = 5000, train_images: int | None = None, test_images: int | None = None,
                 seed: int = 0, augment: Sequence[str] = ("crop", "flip")) -> ImageData:
    """CIFAR-10 through torchvision from a local root; downloads only when asked."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    problems: list[str] = []

    class _LocalCIFAR10(CIFAR10):
        # torchvision unpickles the batch files: only ever do that to files with the official md5
        # (a crafted root must not run code). Only this split's files are checked.
        def _check_integrity(self) -> bool:
            base = Path(self.root) / self.base_folder
            for name, md5 in self.train_list if self.train else self.test_list:
                if not (base / name).is_file():
                    problems.append(f"{base / name} missing")
                    return False
                if not check_integrity(str(base / name), md5):
                    problems.append(f"{base / name} does not have the official md5, so it was not read")
                    return False
            return True

        def _load_meta(self) -> None:  # fixed for CIFAR-10: no need to unpickle batches.meta
            self.classes = list(CIFAR10_CLASSES)
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    root = Path(root)
    try:
        tr = _LocalCIFAR10(str(root), train=True, download=download)
        te = _LocalCIFAR10(str(root), train=False, download=False)
    except RuntimeError as e:
        raise DatasetNotFoundError(
            f"CIFAR-10 not found or damaged under {root} ({problems[-1] if problems else e}): pass "
            "data.download=true to fetch it there, or use the "
            "offline copy with data=cifar10_npz (reads ../shared/data/cifar10/cifar10_from_jpeg.npz)"
        ) from e
    train = _hwc_to_split(tr.data, np.array(tr.targets))
    test = _hwc_to_split(te.data, np.array(te.targets))
    return finish("cifar10", train, test, 10, CIFAR_MEAN, CIFAR_STD, val_images=val_images,
                  train_images=train_images, test_images=test_images, size=size, channels=3, seed=seed,
                  augment=augment, info={"root": str(root)})


def load_imagefolder(root: "str | Path", *, size: int = 64, val_images: int = 500, test_root: str | None = None,
                     train_images: int | None = None, seed: int = 0,
                     augment: Sequence[str] = ("crop", "flip")) -> ImageData:
    """A torchvision ``ImageFolder`` tree, decoded once into memory at ``size`` x ``size``."""
    from torchvision import datasets, transforms

    def read(path: "str | Path") -> Split:
        if not Path(path).is_dir():
            raise DatasetNotFoundError(f"image folder {path} not found (expected <root>/<class>/<image>)")
        tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()])
        ds = datasets.ImageFolder(str(path), transform=tf)
        xs = torch.stack([_decode(ds, i) for i in range(len(ds))])
        return Split(xs, torch.tensor(ds.targets)), len(ds.classes)

    train, classes = read(root)
    test = read(test_root)[0] if test_root else train.subset(torch.arange(0))
    if not test_root:
        train, test = split_train_val(train, max(1, len(train) // 10), seed + 1)
    return finish(Path(root).name, train, test, classes, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                  val_images=val_images, train_images=train_images, test_images=None, size=None, channels=3,
                  seed=seed, augment=augment)


def _decode(ds: Any, index: int) -> torch.Tensor:
    """Image ``index`` of a torchvision ImageFolder, or a UserInputError naming the file it cannot read."""
    from PIL import UnidentifiedImageError

    try:
        return ds[index][0]
    except (UnidentifiedImageError, OSError) as e:
        raise UserInputError(f"{ds.samples[index][0]} in the image folder is not a readable image "
                             f"({type(e).__name__}): remove it or move it out of data.root") from None


def load_synthetic(*, size: int = 32, channels: int = 3, num_classes: int = 10, train_images: int = 256,
                   val_images: int = 64, test_images: int = 64, seed: int = 0,
                   augment: Sequence[str] = ()) -> ImageData:
    """Learnable random data for tests: each class has its own mean pattern plus noise."""
    g = _seeded(seed, 99)
    # smooth class patterns (4x4 upsampled): survive global pooling, learnable in a few steps
    coarse = torch.rand(num_classes, channels, 4, 4, generator=g)
    protos = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False) * 255
    n = train_images + val_images + test_images
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = (protos[y] * 0.7 + torch.rand(n, channels, size, size, generator=g) * 255 * 0.3).to(torch.uint8)
    full = Split(x, y)
    train = full.subset(torch.arange(train_images + val_images))
    test = full.subset(torch.arange(train_images + val_images, n))
    return finish("synthetic", train, test, num_classes, (0.5,) * channels, (0.25,) * channels,
                  val_images=val_images, train_images=None, test_images=None, size=None, channels=None,
                  seed=seed, augment=augment)


LOADERS = {"digits": load_digits, "arrays": load_arrays, "cifar10": load_cifar10,
           "imagefolder": load_imagefolder, "synthetic": load_synthetic}


def build_data(name: str, **kwargs: Any) -> ImageData:
    """Load dataset ``name`` (one of :data:`LOADERS`) with loader-specific keyword arguments."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}: available {sorted(LOADERS)}")
    return LOADERS[name](**{k: v for k, v in kwargs.items() if v is not None})
