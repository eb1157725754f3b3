import pandas as pd

from oneshot.search import NASProblem, run_search
from oneshot.search.plot import hypervolume_figure, pareto_figure


def test_latency_axis_has_its_unit():
    frame = pd.DataFrame({"arch": ["0", "1"], "accuracy": [50.0, 60.0], "latency": [2.0, 3.0],
                          "feasible": [True, True], "evaluated": [True, True]})
    fig = pareto_figure(frame, frame, ("accuracy", "latency"), {"latency": 4.0})
    assert fig.axes[0].get_xlabel() == "latency (ms)"


def test_hypervolume_plot_is_written_beside_pareto_png(nbm_space, synthetic, tmp_path):
    result = run_search(NASProblem(nbm_space, synthetic), pop_size=8, generations=3, seed=0, out_dir=tmp_path)
    assert (tmp_path / "hypervolume.png").stat().st_size > 0 and (tmp_path / "pareto.png").is_file()
    ax = hypervolume_figure(result.history).axes[0]
    assert ax.get_xlabel() == "distinct evaluations"
    x, y = ax.collections[0].get_offsets().T
    assert list(x) == list(result.history["evaluations"]) and list(y) == list(result.history["hypervolume"])
