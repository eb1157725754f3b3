"""`oneshot-pipeline`: both stages in one run (the quick demo on digits by default)."""
from ..workflows.pipeline import run_pipeline
from .app import hydra_app

main = hydra_app("pipeline", run_pipeline)

if __name__ == "__main__":
    main()
