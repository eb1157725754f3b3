"""Train progressive shrinking briefly on a tiny elastic space (fixed seed) and save or compare
the final weights and optimizer state: the check that a refactoring left its results bit-identical.

    python scripts/progressive_fingerprint.py save  before.pt   # on the old code
    python scripts/progressive_fingerprint.py check before.pt   # on the new code: torch.equal per tensor
"""
from __future__ import annotations

import sys

import torch

from oneshot.data import load_synthetic
from oneshot.sampling.progressive import ProgressiveSampler
from oneshot.space import SearchSpace
from oneshot.supernet import ElasticSuperNet
from oneshot.train import Trainer, TrainSettings

PHASES = [{"name": "largest", "dims": [], "epochs": 1, "lr": 0.1},
          {"name": "kernel", "dims": ["kernel"], "epochs": 1, "lr": 0.05},
          {"name": "depth", "dims": ["kernel", "depth"], "epochs": 1},
          {"name": "expand", "dims": ["kernel", "depth", "expand"], "epochs": 2, "lr": 0.02}]


def space(se: bool) -> SearchSpace:
    mb = "mbconv_se" if se else "mbconv"
    ops = [f"{mb}_k{k}_e{e}" for k in (3, 5) for e in (2, 3)] + ["skip"]
    return SearchSpace(dict(name=f"tiny_elastic{'_se' if se else ''}", input_size=16, stem_channels=8,
                            head_channels=32, num_classes=4, activation="hswish", ops=ops,
                            stages=[dict(layers=2, channels=8, stride=1, min_depth=1),
                                    dict(layers=2, channels=16, stride=2, min_depth=1)]))


def run(se: bool) -> dict[str, torch.Tensor]:
    sp = space(se)
    data = load_synthetic(size=16, num_classes=4, train_images=64, val_images=16, test_images=16)
    torch.manual_seed(0)
    trainer = Trainer(ElasticSuperNet(sp), ProgressiveSampler(sp, phases=PHASES, sandwich=True, seed=0), data,
                      TrainSettings(epochs=99, batch_size=16, lr=0.07, seed=0), device="cpu", progress=False)
    trainer.fit()
    out = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    params = dict(trainer.model.named_parameters())
    names = {id(p): n for n, p in params.items()}
    for p, st in trainer.optimizer.state.items():
        for k, v in st.items():
            if torch.is_tensor(v):
                out[f"opt.{names[id(p)]}.{k}"] = v
    return out


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    runs = {name: run(se) for name, se in (("plain", False), ("se", True))}
    if mode == "save":
        torch.save(runs, path)
        return
    ref = torch.load(path, weights_only=True)
    for name, state in runs.items():
        same = [k for k in state if torch.equal(state[k], ref[name][k])]
        differ = sorted(set(state) - set(same))
        print(f"{name}: {len(same)}/{len(state)} tensors identical" + (f"; differ: {differ[:6]}" if differ else ""))


if __name__ == "__main__":
    main()
