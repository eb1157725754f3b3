import pytest
import torch

from oneshot.sampling import UniformSampler
from oneshot.supernet import SuperNet
from oneshot.train import Trainer, TrainSettings

pytest.importorskip("tensorboard", reason="TensorBoard logging needs the tensorboard package")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from oneshot.train.tensorboard import TensorBoardLogger  # noqa: E402


class TwoPhaseSampler(UniformSampler):
    """A uniform sampler reporting a phase, as progressive shrinking does."""

    def phase_index(self, step: int) -> int:
        return int(step >= 4)

    def describe(self, step: int) -> dict:
        return {"sampler": self.name, "phase": f"p{self.phase_index(step)}", "phase_progress": 0.5}


def test_event_file_has_step_and_epoch_scalars_and_the_sampler_phase(tiny_space, tiny_data, tmp_path):
    torch.manual_seed(0)
    t = Trainer(SuperNet(tiny_space), TwoPhaseSampler(tiny_space, seed=0), tiny_data,
                TrainSettings(epochs=2, batch_size=32), device="cpu", progress=False,
                callbacks=[TensorBoardLogger(tmp_path / "tb")])
    t.fit()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/acc", "train/lr", "train/images_per_s", "sampler/phase_index",
            "sampler/phase_progress", "epoch/train_loss", "epoch/train_acc", "epoch/lr"} <= tags
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, t.step + 1))
    assert [e.value for e in events.Scalars("sampler/phase_index")] == [0, 0, 0, 0, 1, 1, 1, 1]
    epoch_loss = [e.value for e in events.Scalars("epoch/train_loss")]
    assert epoch_loss == pytest.approx(list(t.history[i]["train_loss"] for i in range(2)))
