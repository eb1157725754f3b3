import pytest

from oneshot.search import NASProblem, run_search
from oneshot.search.tensorboard import GENERATION_SCALARS, SearchTensorBoard

pytest.importorskip("tensorboard", reason="runtime.tensorboard needs the tensorboard package")


def read_scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_every_generation_is_logged(nbm_space, synthetic, tmp_path):
    board = SearchTensorBoard(tmp_path / "tb")
    result = run_search(NASProblem(nbm_space, synthetic, constraints={"flops_max": 30e6}), pop_size=8,
                        generations=3, seed=0, callback=board)
    board.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    scalars = read_scalars(tmp_path / "tb")
    history = result.history
    for column, tag in GENERATION_SCALARS.items():
        steps, values = zip(*scalars[tag])
        assert list(steps) == list(history["generation"]), tag
        assert list(values) == pytest.approx(list(history[column]), rel=1e-6), tag
    steps, values = zip(*scalars["search/hypervolume_vs_evaluations"])
    assert list(steps) == list(history["evaluations"])
