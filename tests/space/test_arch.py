import pytest

from oneshot.space import Arch, load_space


def test_string_round_trip():
    a = Arch.from_string("22212220")
    assert tuple(a) == (2, 2, 2, 1, 2, 2, 2, 0)
    assert str(a) == "22212220"
    assert Arch.from_string(str(Arch([11, 0, 35]))) == Arch([11, 0, 35])


def test_arch_is_immutable_and_hashable():
    a = Arch([1, 2])
    assert {a: 1}[Arch((1, 2))] == 1
    with pytest.raises(TypeError):
        a[0] = 3  # type: ignore[index]


def test_parse_rejects_wrong_length_naming_lengths():
    space = load_space("nas_bench_macro")
    with pytest.raises(ValueError, match="has 7 layers, space 'nas_bench_macro' has 8"):
        space.parse("2221222")


def test_parse_rejects_out_of_range_digit_naming_layer_and_range():
    space = load_space("nas_bench_macro")
    with pytest.raises(ValueError, match=r"layer 3 choice 5 is out of range 0..2"):
        space.parse("22252220")


def test_parse_rejects_non_digit():
    with pytest.raises(ValueError, match="character '-' at layer 2"):
        Arch.from_string("22-1")
