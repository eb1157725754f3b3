import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from oneshot.evaluate import EvalCache
from oneshot.workflows.pipeline import run_pipeline
from oneshot.workflows.search import run_search_from_config
from oneshot.workflows.train import train_supernet

TESTS = Path(__file__).resolve().parents[1]
TINY = ["space=tiny", f"hydra.searchpath=[file://{TESTS / 'conf'}]"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from oneshot.paths import conf_dir

    tmp = tmp_path_factory.mktemp("ckpt")
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", TINY + ["data=synthetic", "train=tiny", "train.max_steps=null",
                                       f"checkpoint={tmp}/tiny.pt", "runtime.progress=false", "runtime.device=cpu"])
    return train_supernet(cfg, tmp)


def test_pipeline_writes_pareto_set_and_respects_the_cap(make_cfg, tmp_path):
    cfg = make_cfg("pipeline", *TINY, "data=synthetic", "train=tiny", "train.max_steps=null",
                   "search.options.pop_size=6", "search.generations=2", "constraint.flops_max=5e5",
                   f"checkpoint={tmp_path}/p.pt", f"evaluator.cache={tmp_path}/c.sqlite", "runtime.progress=false")
    run_pipeline(cfg, tmp_path)
    pareto = pd.read_csv(tmp_path / "pareto.csv")
    assert len(pareto) >= 1 and (pareto.flops <= 5e5).all()
    for name in ("history.csv", "pareto.png", "metrics.csv", "best_subnet.json"):
        assert (tmp_path / name).is_file(), name
    best = json.loads((tmp_path / "best_subnet.json").read_text())
    assert best["flops"] <= 5e5 and best["space"] == "tiny"


def test_search_reuses_the_shared_cache(make_cfg, tiny_checkpoint, tmp_path):
    args = [*TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}", f"evaluator.cache={tmp_path}/c.sqlite",
            "evaluator=quick", "search.options.pop_size=6", "search.generations=2", "runtime.progress=false"]
    run_search_from_config(make_cfg("search", *args), tmp_path / "a")
    second = pd.read_csv(tmp_path / "a" / "history.csv")
    run_search_from_config(make_cfg("search", *args), tmp_path / "b")
    again = pd.read_csv(tmp_path / "b" / "history.csv")
    assert second.cache_hit_rate.iloc[-1] == 0.0
    assert again.cache_hit_rate.iloc[-1] == 1.0


def test_a_search_reads_its_checkpoint_file_once(make_cfg, tiny_checkpoint, tmp_path, monkeypatch):
    # issue 15: the space check, the model and the cache key each read the file (three reads)
    import torch

    from oneshot.train import checkpoint

    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a[0]) or real_load(*a, **k))
    monkeypatch.setattr(checkpoint, "file_hash", lambda *a, **k: pytest.fail("checkpoint hashed by a second read"))
    args = [*TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}", f"evaluator.cache={tmp_path}/c.sqlite",
            "evaluator=quick", "search.options.pop_size=4", "search.generations=1", "runtime.progress=false"]
    run_search_from_config(make_cfg("search", *args), tmp_path / "run")
    assert len(loads) == 1
    monkeypatch.undo()
    # the content hash of that one read is the file's hash: caches written before keep their keys
    cache = EvalCache(tmp_path / "c.sqlite")
    assert cache.count(checkpoint.file_hash(tiny_checkpoint)) == cache.count() > 0


def test_search_on_another_data_seed_is_not_served_the_first_seeds_accuracies(make_cfg, tiny_checkpoint, tmp_path):
    # issue 14: data.seed=5 was served accuracies computed on the seed-0 validation split
    args = [*TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}", f"evaluator.cache={tmp_path}/c.sqlite",
            "evaluator=quick", "search.options.pop_size=6", "search.generations=2", "runtime.progress=false"]
    run_search_from_config(make_cfg("search", *args), tmp_path / "seed0")
    run_search_from_config(make_cfg("search", *args, "data.seed=5"), tmp_path / "seed5")
    history = pd.read_csv(tmp_path / "seed5" / "history.csv")
    assert history.cache_hit_rate.iloc[-1] == 0.0


def test_search_run_from_another_folder_writes_its_cache_there_not_into_the_install(tiny_checkpoint, cli_elsewhere):
    # issue 14: the default evaluator.cache (checkpoints/eval_cache.sqlite) fell back to the repo's copy
    out, cwd, changed = cli_elsewhere("search", *TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}",
                                      "evaluator=quick", "search.options.pop_size=4", "search.generations=1",
                                      "runtime.progress=false", "out_dir=out")
    assert out.returncode == 0, out.stderr[-2000:]
    assert changed == []
    assert EvalCache(cwd / "checkpoints" / "eval_cache.sqlite").count() > 0
    assert (cwd / "out" / "pareto.csv").is_file()


def test_search_refuses_a_checkpoint_with_non_finite_weights(tiny_checkpoint, tmp_path):
    import torch

    state = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    state.pop("checksum", None)  # as written before checkpoints were checked
    next(iter(state["model"].values())).fill_(float("nan"))
    torch.save(state, tmp_path / "poisoned.pt")
    cmd = [sys.executable, "-m", "oneshot.cli.search", *TINY, "data=synthetic", f"checkpoint={tmp_path}/poisoned.pt",
           f"evaluator.cache={tmp_path}/c.sqlite", f"out_dir={tmp_path}/out", "runtime.progress=false"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "poisoned.pt has non-finite weights" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "c.sqlite").exists()


def test_infeasible_constraint_is_refused_before_any_evaluation(make_cfg, tiny_checkpoint, tmp_path):
    cfg = make_cfg("search", *TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}", "constraint.flops_max=5e4",
                   f"evaluator.cache={tmp_path}/c.sqlite", "runtime.progress=false")
    with pytest.raises(ValueError, match="smallest"):
        run_search_from_config(cfg, tmp_path)
    assert EvalCache(tmp_path / "c.sqlite").count() == 0


def test_checkpoint_of_another_space_is_refused(make_cfg, tiny_checkpoint, tmp_path):
    from oneshot.train import CheckpointError

    cfg = make_cfg("search", "data=synthetic", f"checkpoint={tiny_checkpoint}", "runtime.progress=false")
    with pytest.raises(CheckpointError, match="trained on space 'tiny'"):
        run_search_from_config(cfg, tmp_path)


def test_two_job_multirun_shares_one_cache_and_writes_a_summary(tiny_checkpoint, tmp_path):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "oneshot.cli.search", "-m", *TINY, "data=synthetic",
           f"checkpoint={tiny_checkpoint}", f"evaluator.cache={tmp_path}/c.sqlite", "evaluator=quick",
           "search.options.pop_size=6", "search.generations=2", "runtime.progress=false",
           "constraint.flops_max=4e5,6e5", f"hydra.sweep.dir={sweep}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert out.returncode == 0, out.stderr[-2000:]
    jobs = sorted(p.parent for p in sweep.rglob("pareto.csv"))
    # job dirs are numbered and named from the overrides, without the checkpoint and cache paths
    assert [j.name for j in jobs] == ["0_constraint.flops_max=400000.0,data=synthetic,evaluator=quick,"
                                      "search.generations=2,search.options.pop_size=6,space=tiny",
                                      "1_constraint.flops_max=600000.0,data=synthetic,evaluator=quick,"
                                      "search.generations=2,search.options.pop_size=6,space=tiny"]
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert len(summary) == 2
    cache = EvalCache(tmp_path / "c.sqlite")
    assert cache.integrity_ok() and cache.count() > 0


@pytest.mark.parametrize("algorithm", ["surrogate_nsga2", "reinforce"])
def test_new_algorithms_run_on_the_supernet_and_the_table(make_cfg, tiny_checkpoint, tmp_path, algorithm):
    extra = {"surrogate_nsga2": ["search.options.initial=10", "search.options.per_iteration=4",
                                 "search.options.inner_generations=3"],
             "reinforce": ["search.options.samples=4"]}[algorithm]
    common = [f"search={algorithm}", "search.max_evaluations=18", "runtime.progress=false", *extra]
    supernet = make_cfg("search", *TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}", "evaluator=quick",
                        f"evaluator.cache={tmp_path}/c.sqlite", *common)
    result = run_search_from_config(supernet, tmp_path / "supernet")
    assert result.algorithm == algorithm and result.history["evaluations"].iloc[-1] == 18
    assert (tmp_path / "supernet" / "best_subnet.json").is_file()
    table = make_cfg("search", "evaluator=nas_bench_macro", "constraint.flops_max=30e6", *common)
    try:
        result = run_search_from_config(table, tmp_path / "table")
    except FileNotFoundError as e:  # the NAS-Bench-Macro table lives in the shared data folder
        pytest.skip(f"no NAS-Bench-Macro table: {e}")
    assert (result.pareto["flops"] <= 30e6).all()
    extra_file = {"surrogate_nsga2": "surrogate.csv", "reinforce": "controller.csv"}[algorithm]
    assert (tmp_path / "table" / extra_file).is_file()


def test_options_of_another_algorithm_are_refused(make_cfg, tmp_path):
    cfg = make_cfg("search", "evaluator=nas_bench_macro", "search=nsga2", "search.algorithm=reinforce")
    with pytest.raises(ValueError, match="unknown option.*'reinforce'"):
        run_search_from_config(cfg, tmp_path)


def test_seed_sweep_keeps_every_seed_in_its_own_job(tiny_checkpoint, tmp_path):
    # the default sweep dir (multirun/search/<time>/) under the working directory, as a user runs it
    cmd = [sys.executable, "-m", "oneshot.cli.search", "-m", *TINY, "data=synthetic",
           f"checkpoint={tiny_checkpoint}", f"evaluator.cache={tmp_path}/c.sqlite", "evaluator=quick",
           "search.options.pop_size=4", "search.generations=1", "runtime.progress=false", "search.seed=0,1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ})
    assert out.returncode == 0, out.stderr[-2000:]
    (sweep,) = (tmp_path / "multirun" / "search").iterdir()
    jobs = sorted(p.parent.name for p in sweep.rglob("pareto.csv"))
    assert len(jobs) == 2 and "search.seed=0" in jobs[0] and "search.seed=1" in jobs[1]
    assert not any(str(tmp_path) in j or "c.sqlite" in j for j in jobs)  # no paths in folder names
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert summary["search.seed"].tolist() == [0, 1]


def _tiny_lut(space, profile_name: str, path: Path, slope: float, intercept: float) -> Path:
    from oneshot.latency import DeviceProfile, LatencyLUT, fixed_keys, is_noop_key, layer_keys
    from oneshot.latency.table import Row

    keys = [k for row in layer_keys(space) for k in row] + fixed_keys(space)
    rows = {k: Row(0.1 * (i + 1), 0.1 * (i + 1), 0.1 * (i + 1), 4) for i, k in enumerate(dict.fromkeys(keys))
            if not is_noop_key(k)}
    lut = LatencyLUT(rows, DeviceProfile.load(profile_name).table_metadata())
    lut.set_correction(slope, intercept, space=space.name, n=20)
    return lut.save(path)


def test_latency_correction_is_logged_and_recorded(make_cfg, tiny_checkpoint, tmp_path, caplog):
    from oneshot.build import space_from_config

    cfg = make_cfg("search", *TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}", "evaluator=quick",
                   f"evaluator.cache={tmp_path}/c.sqlite", "search.options.pop_size=4", "search.generations=1",
                   "device=cpu_1t", f"device.lut={tmp_path}/cpu_1t.csv", "constraint.latency_max=1000",
                   "runtime.progress=false")
    space = space_from_config(cfg)
    lut = _tiny_lut(space, "cpu_1t", tmp_path / "cpu_1t.csv", slope=1.5, intercept=0.25)
    with caplog.at_level("INFO", logger="oneshot"):
        run_search_from_config(cfg, tmp_path)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("latency:")]
    assert len(lines) == 1 and "1.5 * LUT sum +0.25 ms" in lines[0] and str(lut) in lines[0]
    best = json.loads((tmp_path / "best_subnet.json").read_text())
    assert best["latency_model"] == {"table": str(lut), "device_profile": "cpu_1t", "corrected": True,
                                     "slope": 1.5, "intercept": 0.25, "fitted_on_space": "tiny"}
    from oneshot.latency import LatencyLUT

    plain = LatencyLUT.load(lut).predict([space.parse(best["arch"])], space, corrected=False)[0]
    assert best["latency"] == pytest.approx(1.5 * plain + 0.25)


def test_tensorboard_scalars_of_a_search(make_cfg, tiny_checkpoint, tmp_path):
    pytest.importorskip("tensorboard", reason="runtime.tensorboard needs the tensorboard package")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_cfg("search", *TINY, "data=synthetic", f"checkpoint={tiny_checkpoint}", "evaluator=quick",
                   f"evaluator.cache={tmp_path}/c.sqlite", "search.options.pop_size=4", "search.generations=2",
                   "runtime.tensorboard=true", "runtime.progress=false")
    run_search_from_config(cfg, tmp_path)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    history = pd.read_csv(tmp_path / "history.csv")
    for tag in ("search/hypervolume", "search/best_accuracy", "search/feasible_fraction", "search/evaluations"):
        assert [e.step for e in events.Scalars(tag)] == history["generation"].tolist(), tag
    assert (tmp_path / "hypervolume.png").is_file()


def test_history_hypervolume_uses_the_benchmark_normalisation(make_cfg, tmp_path):
    from oneshot.evaluate.nasbench import NasBenchMacroEvaluator, default_table_path
    from oneshot.search import HypervolumeMeter, NASProblem

    if not default_table_path().is_file():
        pytest.skip(f"{default_table_path()} absent (the offline ../shared/data folder is not beside the project)")
    cfg = make_cfg("search", "evaluator=nas_bench_macro", "search.options.pop_size=10", "search.generations=3",
                   "runtime.progress=false")
    run_search_from_config(cfg, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    evaluated = pd.read_csv(tmp_path / "all_evaluated.csv", dtype={"arch": str})
    evaluator = NasBenchMacroEvaluator()
    # benchmarks/search_quality.py's meter: accuracy over the table's range, FLOPs over the space's
    meter = HypervolumeMeter.for_problem(NASProblem(evaluator.space, evaluator))
    table = evaluator.canonical_table()
    assert meter.accuracy_bounds == (table["accuracy"].min(), table["accuracy"].max())
    assert history["hypervolume"].iloc[-1] == pytest.approx(meter.of_frame(evaluated), abs=1e-12)
    assert history["hypervolume_normalisation"].iloc[0] == meter.describe()
