import dataclasses

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from oneshot.config import register_configs
from oneshot.paths import conf_dir
from oneshot.search import algorithm_names, get_algorithm
from oneshot.search.algorithms import register

EXPECTED = {"nsga2", "random", "surrogate_nsga2", "reinforce"}


def test_every_algorithm_is_registered_once_with_a_dataclass():
    assert EXPECTED <= set(algorithm_names())
    for name in algorithm_names():
        spec = get_algorithm(name)
        assert spec.name == name and dataclasses.is_dataclass(spec.options)
        assert isinstance(spec.make_options(), spec.options)


def test_unknown_names_and_options_are_refused():
    with pytest.raises(ValueError, match="unknown search algorithm 'annealing'.*nsga2"):
        get_algorithm("annealing")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['pop_sise'\].*'nsga2'"):
        get_algorithm("nsga2").make_options({"pop_sise": 3})
    assert get_algorithm("nsga2").make_options({"pop_size": 3}, crossover="uniform").crossover == "uniform"
    with pytest.raises(ValueError, match="registered twice"):
        register("nsga2", get_algorithm("random").options)(lambda problem, options: None)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_algorithm_has_a_yaml_with_typed_options(name):
    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("search", [f"search={name}"])
        assert cfg.search.algorithm == name
        assert OmegaConf.get_type(cfg.search.options) is get_algorithm(name).options
        with pytest.raises(Exception, match="no_such_option"):
            compose("search", [f"search={name}", "search.options.no_such_option=1"])
