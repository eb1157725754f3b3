"""Two gloo processes on CPU give the same weights as one process on the union batch.

BN statistics are frozen (train.freeze_bn) so the setting is exact in principle: the
gradient of the mean loss over the union batch is the mean of the per-rank gradients.
(SyncBatchNorm would be the alternative, but PyTorch implements it for GPUs only.)

Workers tear down in order (barrier, then destroy_process_group) and enable faulthandler,
so a native abort in teardown would leave every thread's Python stack in the test output.
"""

import faulthandler
import os
import socket
from contextlib import contextmanager

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from oneshot.data import load_synthetic
from oneshot.sampling import FairSampler, UniformSampler
from oneshot.sampling.few_shot import FewShotSampler
from oneshot.space import SearchSpace
from oneshot.supernet import SuperNet
from oneshot.supernet.few_shot import FewShotSuperNet
from oneshot.train import Trainer, TrainSettings
from oneshot.train.distributed import DistContext

SPACE = {"name": "tiny", "input_size": 16, "stem_channels": 8, "head_channels": 32, "num_classes": 4,
         "stages": [{"layers": 2, "channels": 16, "stride": 2}, {"layers": 2, "channels": 24, "stride": 2}]}
SETTINGS = dict(epochs=1, batch_size=32, lr=0.1, freeze_bn=True, max_steps=4, seed=0)


def _train(sampler_name: str, ctx: DistContext):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    space = SearchSpace(SPACE)
    data = load_synthetic(size=16, num_classes=4, train_images=256, val_images=32, test_images=16)
    if sampler_name == "few_shot_fair":  # three sub-supernets taking turns, fair inside each slice
        model = FewShotSuperNet(space, [1])
        sampler = FewShotSampler([FairSampler(space, seed=0, allowed=model.split.allowed(k))
                                  for k in range(len(model.split))], model.split.to_dict())
    else:
        model = SuperNet(space)
        sampler = UniformSampler(space, seed=0) if sampler_name == "uniform" else FairSampler(space, seed=0)
    t = Trainer(model, sampler, data, TrainSettings(**SETTINGS), device="cpu", progress=False, dist=ctx)
    t.fit()
    return t.model.state_dict()


@contextmanager
def _gloo_group(rank: int, world: int, init_file: str):
    """Join a file-initialised gloo group; on success every rank meets at a barrier before teardown."""
    faulthandler.enable(all_threads=True)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    finished = False
    try:
        yield
        finished = True
    finally:
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def _worker(rank: int, world: int, init_file: str, sampler_name: str, out: str) -> None:
    with _gloo_group(rank, world, init_file):
        state = _train(sampler_name, DistContext(rank, world, rank))
        if rank == 0:
            torch.save(state, out)


@pytest.mark.parametrize("sampler_name", ["uniform", "fair", "few_shot_fair"])
def test_two_process_gloo_equals_one_process_on_the_union_batch(sampler_name, tmp_path):
    out = str(tmp_path / "ddp.pt")
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), sampler_name, out), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)
    single = _train(sampler_name, DistContext())
    for key, value in single.items():
        torch.testing.assert_close(ddp[key], value, atol=2e-6, rtol=1e-5, msg=key)
    torch.manual_seed(0)
    initial = (FewShotSuperNet(SearchSpace(SPACE), [1]) if sampler_name == "few_shot_fair"
               else SuperNet(SearchSpace(SPACE))).state_dict()
    assert any(not torch.equal(initial[k], single[k]) for k in single)  # training moved the weights


def test_rank_batches_split_the_global_batch():
    from oneshot.train.distributed import shard

    x = torch.arange(8)
    parts = [shard(x, DistContext(r, 2, r)) for r in range(2)]
    assert torch.equal(torch.cat(parts), x)
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        shard(torch.arange(7), DistContext(0, 2, 0))


def _eval_worker(rank: int, world: int, init_file: str, ckpt: str, out: str) -> None:
    from oneshot.evaluate import EvalSettings, SupernetEvaluator

    with _gloo_group(rank, world, init_file):
        torch.set_num_threads(1)
        data = load_synthetic(size=16, num_classes=4, train_images=64, val_images=32, test_images=16)
        ev = SupernetEvaluator.from_checkpoint(ckpt, data, EvalSettings(recal_images=32, val_images=32, batch_size=32,
                                                                        recal_batch_size=32),
                                               cache=out + ".sqlite", device="cpu", progress=False)
        archs = [(0, 0, 0, 0), (1, 1, 1, 1), (2, 2, 2, 2), (1, 2, 1, 2), (2, 1, 2, 1)]
        df = ev.evaluate(archs)
        # each rank computed only its share, yet every rank holds every result
        assert ev.stats["computed"] == len(archs)
        torch.save({"acc": torch.tensor(df.accuracy.to_numpy()), "rank": rank}, f"{out}.{rank}")


def test_distributed_evaluation_shards_archs_and_gathers_results(tmp_path):
    from oneshot.evaluate import EvalCache, EvalSettings, SupernetEvaluator

    space = SearchSpace(SPACE)
    data = load_synthetic(size=16, num_classes=4, train_images=64, val_images=32, test_images=16)
    t = Trainer(SuperNet(space), UniformSampler(space), data, TrainSettings(epochs=1, batch_size=32), device="cpu",
                progress=False, checkpoint_path=tmp_path / "s.pt",
                extra_state={"space": space.to_config(), "supernet": {"sharing": "separate"}})
    t.fit()
    out = str(tmp_path / "ev")
    mp.spawn(_eval_worker, args=(2, str(tmp_path / "init"), str(tmp_path / "s.pt"), out), nprocs=2, join=True)
    r0, r1 = torch.load(f"{out}.0", weights_only=True), torch.load(f"{out}.1", weights_only=True)
    assert torch.equal(r0["acc"], r1["acc"])
    single = SupernetEvaluator.from_checkpoint(tmp_path / "s.pt", data, EvalSettings(
        recal_images=32, val_images=32, batch_size=32, recal_batch_size=32), device="cpu", progress=False)
    ref = single.evaluate([(0, 0, 0, 0), (1, 1, 1, 1), (2, 2, 2, 2), (1, 2, 1, 2), (2, 1, 2, 1)])
    assert r0["acc"].tolist() == ref.accuracy.tolist()
    assert EvalCache(out + ".sqlite").count() == 5  # rank 0 wrote every result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun_worker(rank: int, world: int, port: int, out: str) -> None:
    from oneshot.train.distributed import process_group

    faulthandler.enable(all_threads=True)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    with process_group("cpu") as ctx:
        joined = (ctx.rank, ctx.world_size, dist.is_initialized())
    torch.save({"joined": torch.tensor(joined), "after": torch.tensor(dist.is_initialized())}, f"{out}.{rank}")


def test_process_group_joins_from_the_torchrun_environment_and_tears_down(tmp_path):
    out = str(tmp_path / "pg")
    mp.spawn(_torchrun_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    for rank in range(2):
        result = torch.load(f"{out}.{rank}", weights_only=True)
        assert result["joined"].tolist() == [rank, 2, 1]
        assert not bool(result["after"])  # the group it created is destroyed on the way out


def test_process_group_is_a_no_op_outside_torchrun(monkeypatch):
    from oneshot.train.distributed import process_group

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with process_group("cpu") as ctx:
        assert not ctx.enabled and not dist.is_initialized()
