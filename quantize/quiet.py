"""Keep TensorFlow's, onnx2tf's and MLIR's console chatter away from the user.

They print from C++ straight to file descriptors 1 and 2, so redirecting
``sys.stdout`` is not enough. On failure the tail of what was printed becomes
part of the one-line error.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from typing import Iterator

from drsn_edge.errors import DrsnError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Silence Python and C++ output at the file-descriptor level for the block's duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    previous = logging.root.manager.disable
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        logging.disable(logging.WARNING)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        except DrsnError:
            raise
        except Exception as exc:
            sink.seek(0)
            printed = sink.read().decode(errors="replace").splitlines()
            tail = " | ".join(line.strip() for line in printed[-3:] if line.strip())
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DrsnError(f"TensorFlow conversion failed: {message}" + (f" ({tail[:200]})" if tail else "")) from None
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            logging.disable(previous)
