"""Keeping native libraries' start-up lines out of the `keras-archs` command's output.

TensorFlow writes oneDNN, CUDA-probing and CPU-feature lines to file descriptor 2 from
C++ while it is imported, before any log level set in the environment applies (its
absl logging is not initialised yet). They say nothing a user can act on, so the
command imports Keras with that descriptor pointed at /dev/null. Python exceptions are
raised as usual; only what native code prints meanwhile is dropped.
"""

import contextlib
import os
import sys

COMMAND = "keras-archs"


@contextlib.contextmanager
def native_stderr_silenced():
    """Sends what anything writes to file descriptor 2 to /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def running_the_command():
    """True inside the `keras-archs` console script (not for library users)."""
    return bool(sys.argv) and os.path.basename(sys.argv[0]) == COMMAND


def quiet_if_command():
    """`native_stderr_silenced()` inside the console script, else a no-op context."""
    return native_stderr_silenced() if running_the_command() else contextlib.nullcontext()
