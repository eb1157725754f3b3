"""Every bad input reachable from the command line ends the same way: exit code 2, one line on
stderr naming the input (and the fix), no traceback, and no file that existed before changed.

One row per case; each runs the console script as a user would (``python -m oneshot.cli.<app>``)
in a folder holding tiny input files built once for the module.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oneshot.paths import shared_data_dir

ENV = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
QUICK = ("runtime.progress=false", "runtime.device=cpu", "runtime.threads=1")
RUN = ("train=tiny", "checkpoint=ckpt/s.pt", "out_dir=out")
TRAIN = ("data=synthetic", "data.train_images=64", "data.val_images=16", "data.test_images=16", *RUN)
NBM_TABLE = shared_data_dir() / "nas-bench-macro" / "nas-bench-macro_cifar10.json"
needs_nbm = pytest.mark.skipif(not NBM_TABLE.is_file(), reason=f"NAS-Bench-Macro table not at {NBM_TABLE}")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A working folder with one bad (or harmless) input file per case."""
    from PIL import Image

    from oneshot.latency import DeviceProfile, LatencyLUT, Row
    from oneshot.space import load_space
    from oneshot.train.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("bad_input")
    (root / "not_a_zip.npz").write_text("hello")
    np.savez(root / "short_labels.npz", x=np.zeros((40, 8, 8, 3), np.uint8), y=np.zeros(39, np.int64))
    np.savez(root / "objects.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1, np.int64))
    for label in ("cat", "dog"):
        (root / "images" / label).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(root / "images" / label / f"{i}.png")
    (root / "images" / "cat" / "notes.png").write_text("not an image")
    (root / "malformed.yaml").write_text("MBConv: [1, 2\nb: {")
    (root / "malicious.yaml").write_text("!!python/object/apply:os.system ['touch pwned']\n")
    save_checkpoint(root / "no_space.pt", {"model": {}})
    save_checkpoint(root / "nbm.pt", {"model": {}, "space": load_space("nas_bench_macro").to_config()})
    profile = DeviceProfile.load("cpu_2t")
    LatencyLUT({"not-a-key-of-the-space": Row(1.0, 0.9, 1.1, 5)}, profile.table_metadata()).save(root / "few_keys.csv")
    LatencyLUT({}, {**profile.table_metadata(), "batch": "32"}).save(root / "other_batch.csv")
    (root / "ckpt").mkdir()
    return root


SEARCH_NBM = ("evaluator=nas_bench_macro", "search=quick", "out_dir=out")
SEARCH_CKPT = ("data=synthetic", "evaluator=quick", "search=quick", "out_dir=out")
LUT_IMPORT = ("import", "device=nsganetv2_i7_8700k", "device.lut=imported.csv", "out_dir=out")

# (id, app, arguments, text the error line must contain[, pytest mark])
CASES = [
    # data files
    ("npz_not_a_zip", "train", ("data=cifar10_npz", "data.path=not_a_zip.npz", *RUN), "not_a_zip.npz"),
    ("npz_lengths_differ", "train", ("data=cifar10_npz", "data.path=short_labels.npz", *RUN), "short_labels.npz"),
    ("npz_pickled_objects", "train", ("data=cifar10_npz", "data.path=objects.npz", *RUN), "objects.npz"),
    ("image_folder_non_image", "train", ("data=imagefolder", "data.root=images", "data.size=8", "data.val_images=2",
                                         "space.num_classes=2", *RUN), "notes.png"),
    ("image_folder_without_root", "train", ("data=imagefolder", *RUN), "data.root"),
    # settings
    ("train_key_typo", "train", ("+train.lrr=0.1", *TRAIN), "train.lrr"),
    ("batch_size_zero", "train", ("train.batch_size=0", *TRAIN), "train.batch_size"),
    ("epochs_negative", "train", ("train.epochs=-1", *TRAIN), "train.epochs"),
    ("checkpoint_every_negative", "train", ("train.checkpoint_every=-1", *TRAIN), "train.checkpoint_every"),
    ("mutation_prob_above_one", "search", ("search.options.mutation_prob=5", "checkpoint=nbm.pt", *SEARCH_CKPT),
     "search.options.mutation_prob"),
    ("nan_loss_stop", "train", ("train.lr=1e9", "train.epochs=10", "train.max_steps=20", *TRAIN[:4], "train=tiny",
                                "checkpoint=ckpt/nan.pt", "out_dir=out"), "train.lr"),
    # arch strings Hydra reads as numbers
    ("arch_with_underscore", "retrain", ("arch=2221_2220", *TRAIN), "arch=2221_2220"),
    ("arch_in_exponent_form", "retrain", ("arch=1e5", *TRAIN), "arch=1e5"),
    # checkpoints and spaces
    ("checkpoint_without_space", "search", ("checkpoint=no_space.pt", *SEARCH_CKPT), "no_space.pt"),
    ("checkpoint_of_another_space", "search", ("checkpoint=nbm.pt", "space=mobilenet_like", *SEARCH_CKPT),
     "space=nas_bench_macro"),
    ("checkpoint_of_other_space_settings", "search", ("checkpoint=nbm.pt", "space.num_classes=4", *SEARCH_CKPT),
     "space.num_classes=10"),
    ("nas_bench_macro_evaluator_other_space", "search", ("space=mobilenet_like", *SEARCH_NBM), "space=mobilenet_like"),
    # latency tables
    ("lut_missing_keys", "search", ("constraint.latency_max=5", "device.lut=few_keys.csv", *SEARCH_NBM),
     "few_keys.csv", needs_nbm),
    ("lut_other_profile", "search", ("constraint.latency_max=5", "device.lut=other_batch.csv", *SEARCH_NBM),
     "device.force_lut=true", needs_nbm),
    ("search_force_switch_of_old_readme", "search", ("+extra.force=true", *SEARCH_NBM), "device.force_lut=true"),
    ("lut_force_switch_of_old_readme", "lut", ("validate", "+extra.force=true", "out_dir=out"), "device.force_lut=true"),
    ("lut_source_of_old_spelling", "lut", (*LUT_IMPORT, "extra.source=malformed.yaml"), "lut.source"),
    ("retrain_inherit_of_old_spelling", "retrain", ("arch=22212220", "+extra.inherit=true", *TRAIN), "retrain.inherit"),
    ("rank_option_of_old_spelling", "rank", ("+extra.top_k=3",), "rank.top_k"),
    ("lut_action_typo", "lut", ("lut.action=measure", "out_dir=out"), "lut.action"),
    ("lut_import_malformed_yaml", "lut", (*LUT_IMPORT, "lut.source=malformed.yaml"), "malformed.yaml"),
    ("lut_import_malicious_yaml", "lut", (*LUT_IMPORT, "lut.source=malicious.yaml"), "malicious.yaml"),
    # differentiable search
    ("dnas_latency_without_lut", "dnas", ("cost.metric=latency", "device.lut=no_such_lut.csv", *TRAIN), "oneshot-lut"),
    ("dnas_target_below_minimum", "dnas", ("cost.target=1e3", *TRAIN), "smallest flops"),
    ("dnas_single_choice_layer", "dnas", ("space.ops=[mbconv_k3_e3]", *TRAIN), "single-choice"),
    ("dnas_unknown_method", "dnas", ("method.name=darts", *TRAIN), "method.name"),
]
CASES = [pytest.param(*c[:4], id=c[0], marks=c[4:]) for c in CASES]


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case, app, args, names", CASES)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(inputs, case, app, args, names):
    before = _snapshot(inputs)
    hydra_dir = f"hydra.run.dir=hydra/{case}"  # Hydra's own files: a fresh folder per case
    out = subprocess.run([sys.executable, "-m", f"oneshot.cli.{app}", *args, *QUICK, hydra_dir], cwd=inputs, env=ENV,
                         capture_output=True, text=True, timeout=600)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, f"{case}: exit {out.returncode}\n{out.stderr[-3000:]}"
    assert "Traceback" not in out.stderr + out.stdout, out.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr[-3000:]
    assert names in lines[0], f"{case}: the error line does not name {names!r}: {lines[0]}"
    assert "allow_pickle" not in lines[0], "never suggest loading pickled data"
    after = _snapshot(inputs)
    assert {k: after.get(k) for k in before} == before, f"{case} changed files that existed before"
    assert not (inputs / "pwned").exists()
