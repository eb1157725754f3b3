"""Training: one loop for every sampler, checkpoints, BN recalibration, stand-alone runs."""
from .bn import batchnorms, recalibrate_bn
from ..io import atomic_write_text
from .checkpoint import CheckpointError, file_hash, load_checkpoint, save_checkpoint
from .trainer import NonFiniteLossError, Trainer, TrainingInterrupted, TrainSettings

__all__ = ["CheckpointError", "NonFiniteLossError", "TrainSettings", "Trainer", "TrainingInterrupted",
           "atomic_write_text", "batchnorms", "file_hash", "load_checkpoint", "recalibrate_bn", "save_checkpoint"]
