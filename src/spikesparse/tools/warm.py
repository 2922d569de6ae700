"""Warm start: the study's jobs fork from one process that has already imported torch.

Why: every Snakemake job is a fresh ``python -m spikesparse ...`` process, and importing torch,
numpy and the package costs about 2.5-3 s of a job's time before any work starts: most of a
quick-config job, and about a tenth of the default study's job-seconds. With warm start the job's
command is a thin client (standard library only, a few tens of ms) that hands its arguments,
working folder, environment and standard streams to a server over a Unix socket; the server
forks a child that runs the same ``main`` the cold command runs, writing to the job's own log.
Which command that is, the caller says (``run(argv, command)``: the module whose ``main(argv)``
runs a job and whose ``WARM_PRELOAD`` lists what the server imports first; ``python -m
spikesparse`` passes ``spikesparse.cli``), so this module imports no command of its own. The
server imports and never computes, so each child starts from the state a fresh interpreter has
after its imports, and every run reseeds everything it draws from: the numbers are those of a
cold job, bit for bit (tests/test_warm.py).

Opt-in per environment: ``SPIKESPARSE_WARM=1`` (``make study`` and ``make bench-study`` set it).
Without it, or on a SLURM node, or when anything about the server is not right, the command runs
cold in its own process, as before. A job is never run twice: the client falls back to a cold run
only before the server has acknowledged the request.

Safety:
- **Stale code.** The socket's name is a fingerprint of the interpreter, the package's files
  (path, size, modification time) and the environment variables read at import time
  (``OMP_*``, ``MKL_*``, ``PYTHON*``...). A changed source file gives another socket and so a
  fresh server; the old one exits when idle.
- **A killed job.** The client forwards SIGTERM, SIGINT and SIGHUP to the child's process group.
  If the client is killed outright (SIGKILL), the child sees its connection close and kills its
  own process group, so nothing keeps writing a job's outputs after Snakemake has given up on it.
- **Exit status.** The server reaps the child and sends its exit status (128 + signal for a
  killed child) to the client, which exits with it.
- **Lifetime.** The server exits after ``IDLE_S`` seconds without a job (``make study`` also
  stops it at the end: ``python -m spikesparse.tools.warm stop``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

ENV_SWITCH = "SPIKESPARSE_WARM"
IDLE_S = 60.0
_MAX_SOCKET_PATH = 100  # a Unix socket's path is limited to 107 bytes on Linux
START_TIMEOUT_S = 120.0
_PACKAGE = Path(__file__).resolve().parents[1]  # the whole spikesparse package
# Read by C libraries or the interpreter when the server imports, so a child cannot adopt the
# job's value afterwards: a job whose values differ from the server's gets its own server.
_IMPORT_TIME_ENV = (
    "OMP_",
    "MKL_",
    "KMP_",
    "OPENBLAS_",
    "GOMP_",
    "MALLOC_",
    "LD_",
    "PYTHON",
    "TORCH_",
    "CUDA_",
    "SPIKESPARSE_",
)


def fingerprint(environ: dict | None = None) -> str:
    """What a child inherits from the server and cannot change: interpreter, package files,
    import-time environment. Cheap (one ``stat`` per package file) because every job computes it."""
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    # The working folder too: it is the first entry of a child's module path, as in a cold run.
    digest.update(f"{sys.executable}\0{sys.version}\0{_PACKAGE}\0{os.getcwd()}\0".encode())
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".cpp", ".yaml", ".json") and "__pycache__" not in path.parts:
            st = path.stat()
            digest.update(f"{path.relative_to(_PACKAGE)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    for key in sorted(environ):
        if key.startswith(_IMPORT_TIME_ENV) and key != ENV_SWITCH:
            digest.update(f"{key}={environ[key]}\0".encode())
    return digest.hexdigest()[:20]


def runtime_dir() -> Path:
    """A folder only this user can enter (sockets and lock files live there)."""
    import tempfile

    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"spikesparse-warm-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PermissionError(f"{folder} must belong to this user and be private (mode 700)")
    return folder


def socket_path() -> Path:
    """The socket of the server for this code and environment."""
    return runtime_dir() / f"{fingerprint()}.sock"


# -- framing: a 4-byte length, then JSON ---------------------------------------------------------


def _send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    frame = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(sock, [frame], fds)
    else:
        sock.sendall(frame)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise EOFError("connection closed")
        chunks += chunk
    return chunks


def _recv(sock: socket.socket, with_fds: int = 0) -> tuple[dict, list[int]]:
    fds: list[int] = []
    if with_fds:
        head, fds, _flags, _addr = socket.recv_fds(sock, 4, with_fds)
        if not head:
            raise EOFError("connection closed")
        head += _recv_exact(sock, 4 - len(head))
    else:
        head = _recv_exact(sock, 4)
    (length,) = struct.unpack("!I", head)
    return json.loads(_recv_exact(sock, length)), fds


# -- server ---------------------------------------------------------------------------------------


def _exit_status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def _run_child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the job (its streams, folder, environment, arguments), run the
    command, exit. Never returns."""
    code = 1
    try:
        os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["spikesparse", *request["argv"]]

        def watch_client() -> None:
            # The client never sends after its request: EOF means it is gone (killed), and a job
            # nobody waits for must not keep writing outputs.
            with contextlib.suppress(OSError):
                conn.recv(1)
            os.killpg(0, signal.SIGKILL)

        threading.Thread(target=watch_client, daemon=True).start()
        import importlib

        code = importlib.import_module(request["command"]).main(request["argv"])
    except SystemExit as err:
        if err.code is None:
            code = 0
        elif isinstance(err.code, int):
            code = err.code
        else:
            print(err.code, file=sys.stderr)
            code = 1
    except BaseException as err:  # the job's own failure: a traceback in its log, as a cold run prints
        import traceback

        traceback.print_exc()
        code = 130 if isinstance(err, KeyboardInterrupt) else 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(path: Path, command: str, idle_s: float = IDLE_S) -> None:
    """Import the module ``command`` and everything its ``WARM_PRELOAD`` names, listen on ``path``,
    fork a child per request; exit after ``idle_s`` seconds without a job, or on a ``stop``
    request once its running jobs are done."""
    import importlib
    import selectors

    # Nothing preloaded computes with torch (a forked child must find no thread pool started).
    for name in getattr(importlib.import_module(command), "WARM_PRELOAD", ()):
        importlib.import_module(name)
    from .. import _ext

    _ext.extension()  # load (or build) the compiled kernels once, not per child
    sys.stdout.flush()
    sys.stderr.flush()

    # A finished child wakes the loop at once (SIGCHLD through a pipe), so a job's client learns
    # its status without a polling delay.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    listener.bind(str(tmp))
    listener.listen(64)
    os.replace(tmp, path)  # clients see the socket only once it accepts
    inode = os.stat(path).st_ino
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    served = 0
    last_active = time.monotonic()
    listening = True
    try:
        while True:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
            for pid in list(children):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    conn = children.pop(pid)
                    with contextlib.suppress(OSError):
                        _send(conn, {"status": _exit_status(status)})
                    conn.close()
                    last_active = time.monotonic()
            if not children and (not listening or time.monotonic() - last_active > idle_s):
                return
            ready = selector.select(timeout=1.0)
            if not listening or not any(key.fileobj is listener for key, _ in ready):
                continue
            conn, _ = listener.accept()
            last_active = time.monotonic()
            try:
                request, fds = _recv(conn, with_fds=3)
            except (EOFError, OSError, ValueError):
                conn.close()
                continue
            cmd = request.get("cmd", "run")
            if cmd != "run":
                for fd in fds:
                    os.close(fd)
                _send(conn, {"pid": os.getpid(), "running": len(children), "served": served})
                conn.close()
                if cmd == "stop":
                    listening = False
                    selector.unregister(listener)
                    listener.close()
                    _unlink_if(path, inode)
                continue
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                os.close(wake_r)
                os.close(wake_w)
                listener.close()
                for other in children.values():
                    other.close()
                _run_child(conn, request, fds)
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)  # also set in the child: whichever runs first
            _send(conn, {"pid": pid})
            children[pid] = conn
            served += 1
    finally:
        if listening:
            listener.close()
            _unlink_if(path, inode)


def _unlink_if(path: Path, inode: int) -> None:
    """Remove the socket file unless another server has already replaced it."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == inode:
            path.unlink()


# -- client ---------------------------------------------------------------------------------------


def wanted(environ: dict | None = None) -> bool:
    """Warm start is opt-in (``SPIKESPARSE_WARM=1``) and never used inside a SLURM job, whose
    node is shared and whose processes the cluster accounts per job."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV_SWITCH, "") == "1" and "SLURM_JOB_ID" not in environ


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _start_server(path: Path, command: str):
    import subprocess

    return subprocess.Popen(
        [sys.executable, "-m", __spec__.name, "serve", "--socket", str(path), "--command", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def connect_or_start(path: Path, command: str, timeout_s: float = START_TIMEOUT_S) -> socket.socket | None:
    """A connection to the server at ``path``, starting it (for ``command``) if none runs (one
    starter at a time: the others wait on the lock and then connect). None if it does not come up
    in time."""
    sock = _connect(path)
    if sock is not None:
        return sock
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sock = _connect(path)
        if sock is not None:
            return sock
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a server that died without cleaning up
        server = _start_server(path, command)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.05)
            sock = _connect(path)
            if sock is not None:
                return sock
    return None


def run(argv: list[str], command: str) -> int | None:
    """Run ``command``'s ``main(argv)`` (``command``: a module name, e.g. ``spikesparse.cli`` for
    ``python -m spikesparse <argv>``) in a child of the warm server and return its exit status;
    None when warm start is off or the server cannot take the job (run it cold then)."""
    if not wanted():
        return None
    try:
        path = socket_path()
        if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            return None
        sock = connect_or_start(path, command)
    except OSError:
        return None
    if sock is None:
        return None
    with sock:
        umask = os.umask(0)
        os.umask(umask)
        request = {
            "argv": argv,
            "command": command,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "umask": umask,
        }
        # The handlers go in before the request: a signal that arrives while the server forks
        # (the job may already be running) is kept and forwarded once the child's pid is known,
        # instead of killing this client and leaving its job running.
        child, pending = None, []

        def forward(sig, _frame):
            if child is None:
                pending.append(sig)
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, sig)

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, forward)
        try:
            _send(sock, request, fds=[0, 1, 2])
            reply, _ = _recv(sock)
        except (OSError, EOFError, ValueError):
            # Not acknowledged: nothing started; a cold run is safe unless we were told to stop.
            return 128 + pending[0] if pending else None
        child = reply["pid"]
        for sig in pending:
            forward(sig, None)
        try:
            reply, _ = _recv(sock)
        except (OSError, EOFError, ValueError):
            print(f"spikesparse: the warm server was lost while job {child} ran", file=sys.stderr)
            return 1
        return int(reply["status"])


def _request(path: Path, message: dict) -> dict | None:
    sock = _connect(path)
    if sock is None:
        return None
    with sock:
        try:
            _send(sock, message)  # a control message: no streams to hand over
            reply, _ = _recv(sock)
        except (OSError, EOFError, ValueError):
            return None
        return reply


def servers() -> list[Path]:
    """Sockets of this user's servers (any code version, any working folder)."""
    return sorted(runtime_dir().glob("*.sock"))


def stop_all() -> list[tuple[Path, dict]]:
    """Ask every server of this user to exit once its running jobs are done; returns those that
    answered. A socket nobody answers on is a leftover of a killed server and is removed."""
    answered = []
    for path in servers():
        reply = _request(path, {"cmd": "stop"})
        if reply is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            answered.append((path, reply))
    return answered


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m spikesparse.tools.warm", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_serve = sub.add_parser("serve", help="run a server on a socket (the first warm job starts it)")
    p_serve.add_argument("--socket", required=True)
    p_serve.add_argument("--command", required=True, help="module whose main(argv) runs a job")
    p_serve.add_argument("--idle", type=float, default=IDLE_S, help="seconds without a job before it exits")
    sub.add_parser("status", help="this user's running servers")
    sub.add_parser("stop", help="stop this user's servers once their running jobs are done")
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        serve(Path(args.socket), args.command, args.idle)
        return 0
    if args.cmd == "stop":
        for path, reply in stop_all():
            print(f"warm server {reply['pid']} ({path.name}) stops after {reply['running']} running job(s)")
        return 0
    found = False
    for path in servers():
        reply = _request(path, {"cmd": "ping"})
        if reply is not None:
            found = True
            print(
                f"warm server {reply['pid']} ({path.name}): {reply['running']} job(s) running, "
                f"{reply['served']} served"
            )
    if not found:
        print(f"no warm server in {runtime_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
