"""Warm start (spikesparse.tools.warm): a job run in a child of the warm server must be the job run cold,
bit for bit, with the same exit status; a killed job must not keep running; stale code or a
different import-time environment must never be served by an old server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from spikesparse.study.config import validate_config
from spikesparse.study.data import generate, save_dataset
from spikesparse.study.runs import RunKey, run_spec
from spikesparse.tools import warm
from tests.conftest import QUICK_CONFIG, REPO
from tests.test_train_group import SUFFIX, _comparable


@pytest.fixture
def warm_env():
    """An environment with warm start on and a private runtime folder (short: socket paths are
    limited to 107 bytes); every server started in it is stopped afterwards."""
    runtime = tempfile.mkdtemp(prefix="ssw", dir="/tmp")
    env = {**os.environ, "SPIKESPARSE_WARM": "1", "XDG_RUNTIME_DIR": runtime}
    env.pop("SLURM_JOB_ID", None)
    yield env
    _warm_cmd(env, "stop")
    deadline = time.monotonic() + 30
    while "no warm server" not in _warm_cmd(env, "status") and time.monotonic() < deadline:
        time.sleep(0.2)
    shutil.rmtree(runtime, ignore_errors=True)


def _warm_cmd(env: dict, cmd: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "spikesparse.tools.warm", cmd],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout


def _servers(env: dict) -> list[dict]:
    """The ping replies of the servers in ``env``'s runtime folder."""
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
    try:
        return [r for r in (warm._request(p, {"cmd": "ping"}) for p in warm.servers()) if r is not None]
    finally:
        if old is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = old


def _spikesparse(args: list[str], env: dict, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spikesparse", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """One E1 run of the quick config (2 epochs) and its data: the arguments of a training job."""
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    cfg["experiments"]["e1"]["training"]["epochs"] = 2
    cfg = validate_config(cfg)
    spec = run_spec(cfg, RunKey("e1", "homeostatic_l2", "1.0", 0))
    folder = tmp_path_factory.mktemp("warmjob")
    data, _ = generate("anomaly", {k: v for k, v in spec["dataset"].items() if k != "name"})
    save_dataset(folder / "data.npz", data)
    return spec, cfg["metrics"], folder


def _train_args(spec: dict, metrics_cfg: dict, data: Path, out: Path) -> list[str]:
    args = [
        "train",
        "--spec",
        json.dumps([spec]),
        "--data",
        str(data),
        "--metrics-config",
        json.dumps(metrics_cfg),
    ]
    for kind, suffix in SUFFIX.items():
        args += [f"--{kind}", str(out / suffix)]
    return args


def test_a_warm_job_equals_the_same_job_run_cold(job, warm_env, tmp_path):
    spec, metrics_cfg, folder = job
    cold_env = {**warm_env, "SPIKESPARSE_WARM": "0"}
    runs = {}
    for name, env in (("cold", cold_env), ("warm1", warm_env), ("warm2", warm_env)):
        out = tmp_path / name
        out.mkdir()
        done = _spikesparse(
            _train_args(spec, metrics_cfg, folder / "data.npz", out), env, tmp_path, timeout=600
        )
        assert done.returncode == 0, done.stderr
        runs[name] = _comparable(out)
    assert runs["warm1"] == runs["cold"]
    assert runs["warm2"] == runs["cold"]
    # Both warm jobs ran in children of one server (the second found it running).
    (server,) = _servers(warm_env)
    assert server["served"] == 2


def test_exit_status_and_messages_are_those_of_a_cold_run(warm_env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments: {e1: {study: e9}}\n")
    cold_env = {**warm_env, "SPIKESPARSE_WARM": "0"}
    for args, status in (
        (["check-config", "--config", str(bad)], 2),
        (["check-config", "--config", "missing.yaml"], 2),  # one line naming the path
    ):
        cold = _spikesparse(args, cold_env, tmp_path, timeout=120)
        hot = _spikesparse(args, warm_env, tmp_path, timeout=120)
        assert cold.returncode == hot.returncode == status
        assert hot.stderr.strip().splitlines()[-1] == cold.stderr.strip().splitlines()[-1]
    ok = _spikesparse(["check-config", "--config", str(REPO / "config" / "quick.yaml")], warm_env, tmp_path)
    assert ok.returncode == 0 and "valid" in ok.stdout
    assert sum(s["served"] for s in _servers(warm_env)) == 3


def _long_job(job, warm_env, tmp_path) -> tuple[subprocess.Popen, Path]:
    """A warm training job that runs for minutes, once its child is running."""
    spec, metrics_cfg, folder = job
    spec = {**spec, "training": {**spec["training"], "epochs": 5000}}
    out = tmp_path / "long"
    out.mkdir()
    client = subprocess.Popen(
        [sys.executable, "-m", "spikesparse", *_train_args(spec, metrics_cfg, folder / "data.npz", out)],
        env=warm_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not any(s["running"] for s in _servers(warm_env)):
        assert time.monotonic() < deadline, "the warm job never started"
        assert client.poll() is None, "the client ended before its job ran"
        time.sleep(0.2)
    return client, out


def _wait_no_job_running(env: dict) -> None:
    deadline = time.monotonic() + 30
    while any(s["running"] for s in _servers(env)):
        assert time.monotonic() < deadline, "the killed job's child is still running"
        time.sleep(0.2)


def test_a_client_killed_outright_takes_its_job_with_it(job, warm_env, tmp_path):
    client, out = _long_job(job, warm_env, tmp_path)
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=30)
    _wait_no_job_running(warm_env)
    assert not any(out.iterdir()), "a job nobody waits for wrote outputs"


def test_sigterm_reaches_the_job_and_its_status_comes_back(job, warm_env, tmp_path):
    client, out = _long_job(job, warm_env, tmp_path)
    client.send_signal(signal.SIGTERM)
    assert client.wait(timeout=30) == 128 + signal.SIGTERM
    _wait_no_job_running(warm_env)
    assert not any(out.iterdir())


def test_stop_ends_the_server_and_removes_its_socket(warm_env, tmp_path):
    ok = _spikesparse(["check-config", "--config", str(REPO / "config" / "quick.yaml")], warm_env, tmp_path)
    assert ok.returncode == 0
    assert len(_servers(warm_env)) == 1
    assert "stops after 0 running job(s)" in _warm_cmd(warm_env, "stop")
    deadline = time.monotonic() + 30
    while list(Path(warm_env["XDG_RUNTIME_DIR"]).rglob("*.sock")):
        assert time.monotonic() < deadline, "the stopped server left its socket"
        time.sleep(0.1)
    assert "no warm server" in _warm_cmd(warm_env, "status")


def test_a_socket_path_too_long_runs_the_job_cold(warm_env, tmp_path):
    deep = Path(tempfile.mkdtemp(prefix="ssw" + "x" * 90, dir="/tmp"))
    env = {**warm_env, "XDG_RUNTIME_DIR": str(deep)}
    try:
        ok = _spikesparse(
            ["check-config", "--config", str(REPO / "config" / "quick.yaml")], env, tmp_path, timeout=120
        )
        assert ok.returncode == 0 and "valid" in ok.stdout
        assert not list(deep.rglob("*.sock"))
    finally:
        shutil.rmtree(deep, ignore_errors=True)


def test_warm_start_is_opt_in_and_never_inside_a_slurm_job():
    assert not warm.wanted({})
    assert not warm.wanted({"SPIKESPARSE_WARM": "0"})
    assert warm.wanted({"SPIKESPARSE_WARM": "1"})
    assert not warm.wanted({"SPIKESPARSE_WARM": "1", "SLURM_JOB_ID": "42"})


def test_fingerprint_follows_the_code_and_the_import_time_environment(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    module = package / "mod.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(warm, "_PACKAGE", package)
    base = {"PATH": "/bin", "OMP_NUM_THREADS": "1"}
    first = warm.fingerprint(base)
    assert warm.fingerprint(base) == first
    assert warm.fingerprint({**base, "PATH": "/usr/bin", "SPIKESPARSE_WARM": "1"}) == first  # read per job
    assert warm.fingerprint({**base, "OMP_NUM_THREADS": "2"}) != first  # read when torch loads
    assert warm.fingerprint({**base, "PYTHONPATH": "/elsewhere"}) != first
    module.write_text("x = 22\n")  # an edited source file: another server
    assert warm.fingerprint(base) != first
    (package / "new.py").write_text("")
    assert len({first, warm.fingerprint(base)}) == 2
    (package / "data.bin").write_bytes(b"")  # not code: no effect
    changed = warm.fingerprint(base)
    (package / "data.bin").write_bytes(b"more")
    assert warm.fingerprint(base) == changed


def test_the_client_imports_neither_torch_nor_numpy():
    code = (
        "import sys, spikesparse.tools.warm\nprint(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("acknowledged", [True, False], ids=["acknowledged", "never-acknowledged"])
def test_a_signal_while_the_server_forks_is_not_lost(acknowledged, monkeypatch):
    """A SIGTERM that reaches the client after it sent its job but before the server answered
    with the child's pid (the job may already run) is forwarded to the child once the pid is
    known, and the client returns the job's status; if the server never answers, the client
    stops with 128 + the signal instead of running the job cold. Before, the default handler
    killed the client in that window and left its job running."""

    class Sock:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    replies = iter([{"pid": 4242}, {"status": 128 + signal.SIGTERM}])
    killed = []

    def recv(_sock):
        if not killed and not getattr(recv, "raised", False):
            recv.raised = True
            signal.raise_signal(signal.SIGTERM)  # arrives while the server forks
            if not acknowledged:
                raise EOFError
        return next(replies), []

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    monkeypatch.setattr(warm, "wanted", lambda *a: True)
    monkeypatch.setattr(warm, "connect_or_start", lambda path, command: Sock())
    monkeypatch.setattr(warm, "_send", lambda *a, **k: None)
    monkeypatch.setattr(warm, "_recv", recv)
    monkeypatch.setattr(warm.os, "killpg", lambda pid, sig: killed.append((pid, sig)))
    lost = []
    signal.signal(signal.SIGTERM, lambda *_: lost.append(1))  # a clean failure, not a dead pytest
    try:
        status = warm.run(["train"], "spikesparse.cli")
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert not lost and status == 128 + signal.SIGTERM
    assert killed == ([(4242, signal.SIGTERM)] if acknowledged else [])
