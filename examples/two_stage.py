"""The whole two-stage job in Python: train a weight-sharing supernet on the bundled digits,
search it under a FLOPs cap, print the best architecture.  Run: python examples/two_stage.py"""
import argparse

import oneshot

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--epochs", type=float, default=5)
p.add_argument("--generations", type=int, default=10)
p.add_argument("--pop-size", type=int, default=20)
args = p.parse_args()

space = oneshot.load_space("nas_bench_macro")  # 8 layers x {identity, MBConv k3 e3, MBConv k5 e6}
data = oneshot.load_digits(size=space.input_size)  # scikit-learn's digits: offline
supernet = oneshot.SuperNet(space)
# stage one: SPOS -- one uniformly sampled path per step
oneshot.Trainer(supernet, oneshot.UniformSampler(space, seed=0), data,
                oneshot.TrainSettings(epochs=args.epochs, batch_size=64), progress=False).fit()
# stage two: NSGA-II over the frozen supernet (BN recalibrated per arch), FLOPs at most halfway up the range
evaluator = oneshot.PrefixSharingEvaluator(supernet, space, data, oneshot.EvalSettings(val_images=300),
                                           progress=False)
low, high = oneshot.CostModel(space).bounds("flops")
problem = oneshot.NASProblem(space, evaluator, objectives=("accuracy", "flops"),
                             constraints={"flops": (low + high) / 2})
result = oneshot.run_search(problem, pop_size=args.pop_size, generations=args.generations, seed=0)
best = result.best
print(f"best arch {result.best_arch}: {best['accuracy']:.2f}% val accuracy, {best['flops'] / 1e6:.2f} MFLOPs "
      f"(cap {(low + high) / 2e6:.2f}); {len(result.pareto)} archs on the Pareto front")
