import pytest
import torch

from oneshot.space import SearchSpace
from oneshot.train import CheckpointError, load_checkpoint, save_checkpoint
from oneshot.io import atomic_write_text
from oneshot.train.checkpoint import file_hash


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
