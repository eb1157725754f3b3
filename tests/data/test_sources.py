import hashlib
import pickle

import numpy as np
import pytest
import torch

from oneshot.data import DatasetNotFoundError, build_data, load_arrays, load_cifar10, load_digits, load_synthetic


def test_digits_offline_resized_three_channels():
    d = load_digits(size=32)
    assert d.image_shape == (3, 32, 32)
    assert (len(d.train), len(d.val), len(d.test)) == (1200, 300, 297)
    assert d.num_classes == 10
    # the three splits are disjoint subsets of the 1,797 images
    assert len(d.train) + len(d.val) + len(d.test) == 1797


def test_train_val_split_is_seeded_and_disjoint():
    a, b = load_synthetic(seed=0), load_synthetic(seed=0)
    assert torch.equal(a.val.x, b.val.x)
    train = {bytes(x.numpy()) for x in a.train.x}
    assert not any(bytes(x.numpy()) in train for x in a.val.x)


def _write_fake_cifar(root, n_train=20, n_test=10):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch = {"data": rng.integers(0, 255, (n_train, 3072), dtype=np.uint8),
                 "labels": list(rng.integers(0, 10, n_train))}
        with open(base / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch, f)
    with open(base / "test_batch", "wb") as f:
        pickle.dump({"data": rng.integers(0, 255, (n_test, 3072), dtype=np.uint8),
                     "labels": list(rng.integers(0, 10, n_test))}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}".encode() for i in range(10)]}, f)


def _trust_fake_cifar(root, monkeypatch):
    """Make torchvision's expected md5s those of the fake files (as if they were the official ones)."""
    from torchvision.datasets import CIFAR10

    base = root / "cifar-10-batches-py"
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in base.iterdir()}
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])


def test_cifar10_from_a_local_torchvision_root(tmp_path, monkeypatch):
    _write_fake_cifar(tmp_path)
    _trust_fake_cifar(tmp_path, monkeypatch)
    d = load_cifar10(tmp_path, val_images=10)
    assert (len(d.train), len(d.val), len(d.test)) == (90, 10, 10)
    assert d.image_shape == (3, 32, 32)


class _Payload:
    """Unpickling this creates the file ``marker``: proof that code from the data root ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_cifar10_never_unpickles_batches_meta(tmp_path, monkeypatch):
    # issue 14: a crafted batches.meta ran its payload on data=cifar10
    _write_fake_cifar(tmp_path)
    _trust_fake_cifar(tmp_path, monkeypatch)
    marker = tmp_path / "pwned"
    (tmp_path / "cifar-10-batches-py" / "batches.meta").write_bytes(pickle.dumps(_Payload(marker)))
    d = load_cifar10(tmp_path, val_images=10)
    assert not marker.exists()
    assert d.num_classes == 10


def test_cifar10_batch_without_the_official_md5_is_not_unpickled(tmp_path):
    _write_fake_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(DatasetNotFoundError, match=r"data_batch_1 does not have the official md5, so it was not read"):
        load_cifar10(tmp_path, val_images=10)
    assert not marker.exists()


def test_cifar10_missing_root_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="data.download=true"):
        load_cifar10(tmp_path / "nowhere")


def test_arrays_npz_with_split(tmp_path):
    path = tmp_path / "a.npz"
    x = np.random.default_rng(0).integers(0, 255, (60, 8, 8, 3), dtype=np.uint8)
    y = np.arange(60) % 10
    split = (np.arange(60) >= 50).astype(np.int8)
    np.savez(path, x=x, y=y, split=split)
    d = load_arrays(path, val_images=10)
    assert (len(d.train), len(d.val), len(d.test)) == (40, 10, 10)
    # a training image comes back as stored (HWC -> CHW)
    assert torch.equal(d.test.x[0], torch.from_numpy(x[50]).permute(2, 0, 1))


def test_arrays_missing_or_malformed(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="not found"):
        load_arrays(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not a valid arrays file"):
        load_arrays(bad)


def test_build_data_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        build_data("mnist")
