import pytest

from oneshot.evaluate.base import Evaluator
from oneshot.evaluate.nasbench import NasBenchMacroEvaluator, default_table_path
from oneshot.search import NASProblem, run_search

needs_table = pytest.mark.skipif(not default_table_path().is_file(),
                                 reason=f"NAS-Bench-Macro table not found at {default_table_path()} "
                                        "(see ../shared/data/README.md)")


def test_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="xiusu/NAS-Bench-Macro.*path="):
        NasBenchMacroEvaluator(tmp_path / "nope.json")


@pytest.fixture(scope="module")
def nbm():
    return NasBenchMacroEvaluator()


@needs_table
def test_lookup(nbm):
    assert isinstance(nbm, Evaluator)
    frame = nbm.evaluate(["22212220", [2, 2, 2, 0, 1, 2, 2, 0], "00000000"])
    assert frame["arch"].tolist() == ["22212220", "22210220", "00000000"]
    assert frame["accuracy"].iloc[0] == pytest.approx(93.1267, abs=1e-3)
    assert frame["cached"].all()
    assert nbm.n_lookups == 3 and len(nbm.distinct) == 3
    # equivalent strings are one network
    a, b = nbm.evaluate(["22201220", "22210220"])["accuracy"]
    assert a == b
    seed0 = NasBenchMacroEvaluator(seed=0).evaluate(["22212220"])["accuracy"].iloc[0]
    assert seed0 != frame["accuracy"].iloc[0]
    with pytest.raises(ValueError, match="seed"):
        NasBenchMacroEvaluator(seed=5)


@needs_table
def test_canonical_table(nbm):
    t = nbm.canonical_table()
    assert len(t) == 3969 and t["arch"].is_unique
    assert t.loc[t["accuracy"].idxmax(), "arch"] == "22212220"


@needs_table
def test_constrained_search_on_table(nbm):
    problem = NASProblem(nbm.space, nbm, constraints={"flops_max": 30e6})
    result = run_search(problem, pop_size=30, generations=8, seed=0)
    assert result.best["flops"] <= 30e6
    assert (result.history["cache_hit_rate"] == 1.0).all()
    table = nbm.canonical_table()
    best_true = table.loc[table["flops"] <= 30e6, "accuracy"].max()
    assert result.best["accuracy"] <= best_true + 1e-9
