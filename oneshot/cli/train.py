"""`oneshot-train`: stage one (supernet training). Example: oneshot-train sampler=fair train.epochs=5"""
from ..workflows.train import train_supernet
from .app import hydra_app

main = hydra_app("train", train_supernet)

if __name__ == "__main__":
    main()
