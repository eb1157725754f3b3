import torch

from oneshot.data import augment, load_synthetic


def test_train_batch_is_a_pure_function_of_seed_and_index():
    d = load_synthetic(train_images=96, val_images=32, augment=("crop", "flip"))
    x1, y1 = d.train_batch(5, 16, seed=3)
    d.train_batch(0, 16, seed=3)
    x2, y2 = d.train_batch(5, 16, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, _ = d.train_batch(5, 16, seed=4)
    assert not torch.equal(x1, x3)


def test_each_epoch_is_a_permutation_of_the_training_set():
    d = load_synthetic(train_images=96, val_images=32)
    per_epoch = d.batches_per_epoch(16)
    labels = torch.cat([d.train_batch(i, 16, seed=0)[1] for i in range(per_epoch)])
    assert sorted(labels.tolist()) == sorted(d.train.y.tolist())


def test_crop_and_flip_keep_shape_and_content():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).view(2, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    out = augment(x, ("crop", "flip"), 2, g)
    assert out.shape == x.shape and out.dtype == torch.uint8
    flipped = augment(x, ("flip",), 0, torch.Generator().manual_seed(1))
    for a, b in zip(flipped, x):
        assert torch.equal(a, b) or torch.equal(a, b.flip(2))


def test_crop_with_zero_offset_is_a_shift():
    x = torch.randint(0, 255, (64, 1, 6, 6), dtype=torch.uint8)
    out = augment(x, ("crop",), 1, torch.Generator().manual_seed(0))
    # every output is the input shifted by at most one pixel with zero fill
    for a, b in zip(out, x):
        assert any(torch.equal(a[:, 1:-1, 1:-1], b[:, 1 + dy:5 + dy, 1 + dx:5 + dx])
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1))
