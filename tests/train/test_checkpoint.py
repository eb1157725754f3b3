import pytest
import torch

from oneshot.space import SearchSpace
from oneshot.train import CheckpointError, load_checkpoint, save_checkpoint
from oneshot.io import atomic_write_text
from oneshot.train.checkpoint import NonFiniteCheckpointError, content_checksum, file_hash


def test_round_trip_with_weights_only(tiny_space, tmp_path):
    path = tmp_path / "a.pt"
    save_checkpoint(path, {"space": tiny_space.to_config(), "model": {"w": torch.ones(2)}})
    state = load_checkpoint(path, tiny_space)
    assert torch.equal(state["model"]["w"], torch.ones(2))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_corrupted_file_is_named_corrupted(tiny_space, tmp_path):
    path = tmp_path / "a.pt"
    save_checkpoint(path, {"space": tiny_space.to_config(), "model": {"w": torch.ones(1000)}})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(path)


def test_foreign_torch_file_is_refused(tmp_path):
    path = tmp_path / "b.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a oneshot checkpoint"):
        load_checkpoint(path)


def test_checkpoint_from_another_space_is_refused(tiny_space, tmp_path):
    path = tmp_path / "a.pt"
    save_checkpoint(path, {"space": tiny_space.to_config(), "model": {}})
    other = SearchSpace({**tiny_space.to_config(), "name": "other", "head_channels": 64})
    with pytest.raises(CheckpointError, match="trained on space 'tiny'.*not 'other'"):
        load_checkpoint(path, other)


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    path = tmp_path / "m.csv"
    atomic_write_text(path, "old")
    from oneshot.io import atomic_write_bytes

    def broken(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_bytes(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_file_hash_changes_with_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"1")
    b.write_bytes(b"2")
    assert file_hash(a) != file_hash(b) and file_hash(a) == file_hash(a)


def _state(space, **model):
    return {"space": space.to_config(), "model": model or {"w": torch.arange(1000, dtype=torch.float32)}}


@pytest.mark.parametrize("where", ["model", "optimizer", "buffer"])
def test_non_finite_state_is_never_written(tiny_space, tmp_path, where):
    path = tmp_path / "a.pt"
    save_checkpoint(path, _state(tiny_space))
    before = path.read_bytes()
    bad = {"model": {"w": torch.tensor([1.0, float("nan")])},
           "optimizer": {"state": {0: {"momentum_buffer": torch.tensor([float("inf")])}}},
           "buffer": {"bn.running_var": torch.tensor([float("-inf")])}}[where]
    with pytest.raises(NonFiniteCheckpointError, match="refusing to write .*a.pt.*NaN/inf"):
        save_checkpoint(path, {**_state(tiny_space), where: bad})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


def test_non_finite_checkpoint_is_refused_on_load(tiny_space, tmp_path):
    # a file written before the check (plain torch.save of a poisoned state) is refused by name
    path = tmp_path / "poisoned.pt"
    torch.save({"format": "oneshot-checkpoint", "version": 1, **_state(tiny_space, w=torch.full((3,), float("nan")))},
               path)
    with pytest.raises(NonFiniteCheckpointError, match=r"poisoned.pt has non-finite weights: 1 tensor\(s\) \(model.w\)"):
        load_checkpoint(path)


def _flip_byte_in_tensor_data(path, marker: bytes) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(marker)
    assert at > 0, "tensor bytes not found in the file"
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_flipped_byte_in_tensor_data_is_refused(tiny_space, tmp_path):
    path = tmp_path / "a.pt"
    w = torch.arange(1000, dtype=torch.float32) + 0.5
    save_checkpoint(path, _state(tiny_space, w=w))
    _flip_byte_in_tensor_data(path, w[500:502].numpy().tobytes())
    with pytest.raises(CheckpointError, match="a.pt is corrupted: its content does not match the checksum"):
        load_checkpoint(path)


def test_checkpoint_without_checksum_still_loads_with_a_warning(tiny_space, tmp_path, caplog):
    path = tmp_path / "old.pt"
    torch.save({"format": "oneshot-checkpoint", "version": 1, **_state(tiny_space)}, path)
    with caplog.at_level("WARNING", logger="oneshot.train.checkpoint"):
        state = load_checkpoint(path, tiny_space)
    assert torch.equal(state["model"]["w"], torch.arange(1000, dtype=torch.float32))
    assert "no content checksum" in caplog.text


def test_checksum_covers_plain_values_too(tiny_space, tmp_path):
    a = {"format": "oneshot-checkpoint", **_state(tiny_space), "train": {"step": 3}}
    b = {**a, "train": {"step": 4}}
    assert content_checksum(a) != content_checksum(b) and content_checksum(a) == content_checksum(dict(a))


def test_checkpoint_without_a_space_entry_is_named(tiny_space, tmp_path):
    from oneshot.train.checkpoint import check_space

    path = tmp_path / "a.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}})
    with pytest.raises(CheckpointError, match=r"a.pt records no 'space' entry"):
        load_checkpoint(path, tiny_space)
    with pytest.raises(CheckpointError, match="no 'space' entry"):
        check_space(load_checkpoint(path), tiny_space, path)


def test_space_mismatch_hint_names_what_differs_not_the_space_already_passed(tiny_space, tmp_path):
    path = tmp_path / "a.pt"
    save_checkpoint(path, {"space": tiny_space.to_config(), "model": {}})
    same_name = SearchSpace({**tiny_space.to_config(), "num_classes": 7})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, same_name)
    assert f"space.num_classes={tiny_space.num_classes}" in str(err.value)
    assert f"pass space={tiny_space.name}" not in str(err.value)
    other = SearchSpace({**tiny_space.to_config(), "name": "other"})
    with pytest.raises(CheckpointError, match=f"pass space={tiny_space.name} or a checkpoint trained on space 'other'"):
        load_checkpoint(path, other)
