"""Which NAS-Bench-Macro layer should a few-shot supernet split on? Two measures, side by side.

1. ``eta2`` (ground truth): share of the variance of NAS-Bench-Macro's mean accuracy over the
   3,969 distinct networks explained by the layer's canonical choice
   (:func:`oneshot.supernet.split_analysis.variance_explained`). Using it to pick the split
   leaks the table into every ranking later judged on the same table.
2. ``disagreement`` (no ground truth): GM-NAS-style gradient disagreement of the trained
   one-shot supernet across the layer's choices, on training images
   (:func:`oneshot.supernet.split_analysis.gradient_disagreement`). This one picks the split.

    python benchmarks/few_shot_split.py --checkpoint checkpoints/cifar_fair.pt [--batches 8]

Without ``--checkpoint`` (or if it does not exist) a small fair one-shot supernet is trained
first on ``--train-images`` CIFAR-10 images for ``--epochs`` epochs (kept under checkpoints/
and reused). Writes ``benchmarks/results/few_shot_split.csv`` and ``.md``.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, environment, markdown_table  # noqa: E402
from oneshot.data import build_data  # noqa: E402
from oneshot.evaluate import load_supernet  # noqa: E402
from oneshot.evaluate.nasbench import NasBenchMacroEvaluator  # noqa: E402
from oneshot.paths import REPO_DIR, shared_data_dir  # noqa: E402
from oneshot.sampling import FairSampler  # noqa: E402
from oneshot.space import load_space  # noqa: E402
from oneshot.supernet import SuperNet  # noqa: E402
from oneshot.supernet.split_analysis import gradient_disagreement, variance_explained  # noqa: E402
from oneshot.train import Trainer, TrainSettings  # noqa: E402

log = logging.getLogger("few_shot_split")


def table_eta2() -> np.ndarray | None:
    try:
        table = NasBenchMacroEvaluator().canonical_table()
    except FileNotFoundError as e:
        log.warning("%s", e)
        return None
    genomes = np.array([[int(c) for c in a] for a in table.arch], dtype=np.int64)
    return variance_explained(load_space("nas_bench_macro"), genomes, table.accuracy.to_numpy())


def quick_supernet(data, path: Path, epochs: float, seed: int) -> Path:
    """A fair one-shot supernet trained briefly (reused if ``path`` holds a complete one)."""
    space = load_space("nas_bench_macro")
    settings = TrainSettings(epochs=epochs, batch_size=64, lr=0.05, warmup_epochs=min(1.0, epochs / 4),
                             weight_decay=5e-4, channels_last="on", seed=seed)
    trainer = Trainer(SuperNet(space), FairSampler(space, seed=seed), data, settings, checkpoint_path=path,
                      device="cpu", progress=False,
                      extra_state={"space": space.to_config(), "supernet": {"sharing": "separate"}, "kind": "supernet"})
    trainer.resume()
    trainer.fit()
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="trained one-shot nas_bench_macro supernet")
    p.add_argument("--train-images", type=int, default=5000, help="quick supernet (no checkpoint): images")
    p.add_argument("--epochs", type=float, default=3, help="quick supernet (no checkpoint): epochs")
    p.add_argument("--batches", type=int, default=8, help="training batches of 64 per layer and choice")
    p.add_argument("--archs-per-batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--table-only", action="store_true", help="only the table's variance decomposition (seconds)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.table_only:
        eta2 = table_eta2()
        if eta2 is None:
            raise SystemExit("error: the NAS-Bench-Macro table is missing (see the warning above)")
        frame = pd.DataFrame({"layer": range(len(eta2)), "eta2_table": eta2})
        frame["rank_eta2"] = frame.eta2_table.rank(ascending=False).astype(int)
        frame.to_csv(RESULTS / "few_shot_split_table.csv", index=False)
        print(markdown_table(frame, floatfmt=".4f"))
        return
    torch.set_num_threads(args.threads)
    npz = shared_data_dir() / "cifar10" / "cifar10_from_jpeg.npz"
    data = build_data("arrays", path=npz, size=32, val_images=5000, train_images=args.train_images, seed=0)
    ckpt = args.checkpoint
    source = str(ckpt)
    if ckpt is None or not ckpt.exists():
        ckpt = REPO_DIR / "checkpoints" / f"few_shot_split_fair_{args.train_images}x{args.epochs:g}.pt"
        source = f"quick fair supernet: {args.train_images} CIFAR-10 images x {args.epochs:g} epochs"
        log.info("training %s -> %s", source, ckpt)
        quick_supernet(data, ckpt, args.epochs, args.seed)
    model, space, _ = load_supernet(ckpt)
    if space.name != "nas_bench_macro":
        raise SystemExit(f"error: {ckpt} is a {space.name!r} supernet; this analysis is for nas_bench_macro")
    batches = [data.train_batch(i, 64, args.seed + 1) for i in range(args.batches)]
    start = time.perf_counter()
    rows = gradient_disagreement(model, batches, archs_per_batch=args.archs_per_batch, seed=args.seed)
    seconds = time.perf_counter() - start
    eta2 = table_eta2()
    frame = pd.DataFrame(rows)
    frame["eta2_table"] = np.nan if eta2 is None else eta2[frame.layer]
    frame["rank_disagreement"] = frame.disagreement.rank(ascending=False).astype(int)
    frame["rank_eta2"] = frame.eta2_table.rank(ascending=False)
    frame["ops"] = [" / ".join(op.name for op in space.layers[i].candidates) for i in frame.layer]
    RESULTS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(RESULTS / "few_shot_split.csv", index=False)
    pick = int(frame.loc[frame.disagreement.idxmax(), "layer"])
    table_pick = None if eta2 is None else int(np.argmax(eta2))
    env = environment()
    md = [f"# Few-shot split: which layer's choice matters most ({env['date']})", "",
          f"Supernet: {source} (`{ckpt.name}`); gradients over {args.batches} training batches of 64 x "
          f"{args.archs_per_batch} paired random archs per layer and choice, {seconds:.0f} s on "
          f"{env['threads']} threads (load {env['load_avg_1m']}).", "",
          markdown_table(frame[["layer", "ops", "slices", "disagreement", "min_cosine", "rank_disagreement",
                                "eta2_table", "rank_eta2"]], floatfmt=".4f"), "",
          f"Split on **layer {pick}** (largest gradient disagreement; no ground truth used)."
          + ("" if table_pick is None else f" The table's variance decomposition ranks layer {table_pick} first "
             "(ground truth: reported for comparison, not used to choose).")]
    (RESULTS / "few_shot_split.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
