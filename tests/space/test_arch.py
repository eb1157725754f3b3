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


def test_parse_refuses_a_float_choice_instead_of_truncating_it():
    space = load_space("nas_bench_macro")
    with pytest.raises(ValueError, match=r"arch choice 0.7 is not an integer"):
        space.parse([2, 2, 2, 1, 2, 2, 2, 0.7])
    with pytest.raises(ValueError, match="arch choice 2.0 is not an integer"):
        Arch([2.0, 1])


def test_parse_refuses_a_number_where_the_arch_string_belongs():
    space = load_space("nas_bench_macro")
    with pytest.raises(ValueError, match="arch 22212220 is a int: pass the arch string"):
        space.parse(22212220)


def test_integer_arrays_and_strings_still_parse():
    import numpy as np
    import torch

    space = load_space("nas_bench_macro")
    expected = space.parse("22212220")
    assert space.parse(np.array([2, 2, 2, 1, 2, 2, 2, 0])) == expected
    assert space.parse(torch.tensor([2, 2, 2, 1, 2, 2, 2, 0])) == expected
    assert Arch("22212220") == expected
