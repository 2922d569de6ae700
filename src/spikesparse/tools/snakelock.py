"""Recover from a stale Snakemake lock before `make study` / `make cluster` starts Snakemake.

Why: Snakemake locks its working directory (``.snakemake/locks``) while it runs and removes the
lock when it exits, but a run killed with SIGKILL (or a power loss) cannot remove it; the next run
then stops with a LockException although nothing is running. Removing a lock is only safe when no
Snakemake process is working in that directory, so this module looks for one among the running
processes (Linux ``/proc``: command line and working directory) and unlocks only when there is
none. A lock owned by a live run is left alone, and Snakemake reports it as usual.

Run as ``python -m spikesparse.tools.snakelock --directory WORKDIR -- <snakemake --unlock command>``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

LOCKS = Path(".snakemake") / "locks"


def has_lock(workdir: str | Path) -> bool:
    """True when ``workdir`` holds any Snakemake lock file."""
    locks = Path(workdir) / LOCKS
    return locks.is_dir() and any(locks.iterdir())


def _snakemake_directory(argv: list[str], cwd: Path) -> Path | None:
    """The directory a process works in if its command line is a Snakemake run, else None.

    Snakemake is started as ``snakemake ...`` or ``python .../snakemake ...``; its directory is
    ``--directory``/``-d`` (relative to the process's cwd) or the cwd itself.
    """
    start = None
    for i, arg in enumerate(argv[:3]):
        name = os.path.basename(arg)
        if name == "snakemake" or (name == "-m" and i + 1 < len(argv) and argv[i + 1] == "snakemake"):
            start = i + 1
            break
    if start is None:
        return None
    directory = cwd
    args = argv[start:]
    for i, arg in enumerate(args):
        if arg in ("--directory", "-d") and i + 1 < len(args):
            directory = cwd / args[i + 1]
        elif arg.startswith("--directory="):
            directory = cwd / arg.split("=", 1)[1]
    return directory.resolve()


def owners(workdir: str | Path, proc: Path = Path("/proc")) -> list[int]:
    """Process ids of running Snakemake processes whose working directory is ``workdir``."""
    target = Path(workdir).resolve()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # the process ended meanwhile, or belongs to someone we cannot inspect
            continue
        argv = [a.decode(errors="replace") for a in argv if a]
        if _snakemake_directory(argv, cwd) == target:
            found.append(int(entry.name))
    return found


def recover(workdir: str | Path, unlock_cmd: list[str]) -> str:
    """Unlock ``workdir`` with ``unlock_cmd`` when it holds a lock that no Snakemake owns.

    Returns what happened: ``"none"`` (no lock), ``"owned"`` (a live run holds it; left alone)
    or ``"unlocked"``. Raises RuntimeError when the unlock command fails.
    """
    if not has_lock(workdir):
        return "none"
    pids = owners(workdir)
    if pids:
        print(
            f"spikesparse: {Path(workdir).resolve()} is locked by a running Snakemake (pid "
            f"{', '.join(map(str, pids))}); not unlocking",
            file=sys.stderr,
        )
        return "owned"
    print(
        f"spikesparse: found a stale Snakemake lock in {Path(workdir).resolve() / LOCKS} and no running "
        "Snakemake owns it (an earlier run was killed); unlocking with: " + " ".join(unlock_cmd),
        file=sys.stderr,
    )
    done = subprocess.run(unlock_cmd, capture_output=True, text=True)
    if done.returncode != 0 or has_lock(workdir):
        raise RuntimeError(
            f"snakemake --unlock failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    return "unlocked"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spikesparse.tools.snakelock", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--directory", required=True, help="Snakemake's --directory (where results/ goes)")
    parser.add_argument("unlock_cmd", nargs=argparse.REMAINDER, help="-- then the snakemake --unlock command")
    args = parser.parse_args(argv)
    cmd = args.unlock_cmd[1:] if args.unlock_cmd[:1] == ["--"] else args.unlock_cmd
    if not cmd:
        parser.error("give the unlock command after --, e.g. -- snakemake --unlock --directory .")
    try:
        recover(args.directory, cmd)
    except RuntimeError as err:
        print(f"spikesparse: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
