"""Entry point of the measurement worker process (``python -m oneshot.latency._worker_main``)."""
import os
import sys

from oneshot.latency.worker import _serve

if __name__ == "__main__":
    # the protocol owns a private copy of stdout; anything printed goes to stderr
    _proto_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, _proto_out)
