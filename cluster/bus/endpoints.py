"""Names of every IPC socket: ``ipc://<run-dir>/<daemon>.ctl`` and ``.pub``.

No other module spells an endpoint, nor the reserved topic prefix
:data:`CONFIRM_TOPIC` that publishers echo to confirm a subscription.  Socket
files live in the run directory, which :func:`prepare_run_dir` creates with
mode 0750 (group ``haclient`` when that group exists, so operators in it may
run the status tools).
"""

from __future__ import annotations

import grp
import os
from pathlib import Path

# sun_path is 108 bytes including the NUL; zmq refuses longer ipc paths.
_MAX_IPC_PATH = 107
CLIENT_GROUP = "haclient"
# Each subscriber's private confirmation topic starts with this.  "~" sorts
# after every topic we use (lower-case words), and a SUB socket sends its
# subscriptions in byte order, so the confirmation reaches the publisher last.
CONFIRM_TOPIC = b"~subscribed."


def control_path(run_dir: Path | str, daemon: str) -> Path:
    return Path(run_dir) / f"{daemon}.ctl"


def events_path(run_dir: Path | str, daemon: str) -> Path:
    return Path(run_dir) / f"{daemon}.pub"


def _ipc(path: Path) -> str:
    text = str(path)
    if len(text.encode()) > _MAX_IPC_PATH:
        raise ValueError(f"IPC socket path {text} is longer than {_MAX_IPC_PATH} bytes; "
                         "choose a shorter --run-dir")
    return f"ipc://{text}"


def control(run_dir: Path | str, daemon: str) -> str:
    return _ipc(control_path(run_dir, daemon))


def events(run_dir: Path | str, daemon: str) -> str:
    return _ipc(events_path(run_dir, daemon))


def client_gid() -> int | None:
    try:
        return grp.getgrnam(CLIENT_GROUP).gr_gid
    except KeyError:
        return None


def prepare_run_dir(run_dir: Path | str) -> Path:
    """Create the run directory 0750 (root:haclient when possible)."""
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    gid = client_gid()
    if gid is not None and os.geteuid() == 0:
        os.chown(path, -1, gid)
    os.chmod(path, 0o750)
    return path


def restrict_socket_file(path: Path) -> None:
    """Make a freshly bound socket file 0660, group haclient where that exists."""
    gid = client_gid()
    try:
        if gid is not None and os.geteuid() == 0:
            os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    except FileNotFoundError:
        pass
