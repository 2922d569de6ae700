"""The package as a user installs it: a wheel that carries its data and a core without the workflow,
catalog files, and the README's quick-start script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

WORKFLOW_ONLY = {
    "snakemake",
    "pandas",
    "scipy",
    "seaborn",
    "matplotlib",
    "papermill",
    "nbclient",
    "nbconvert",
    "jsonschema",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (so no build files land in the repository)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
        str(src),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("spikesparse-*.whl")
    return found


def test_wheel_carries_schema_kernels_and_library_modules(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in (
        "spikesparse/study/config.schema.yaml",
        "spikesparse/csrc/lif_loops.cpp",
        "spikesparse/api.py",
        "spikesparse/interop/recorders.py",
        "spikesparse/plugins.py",
        "spikesparse/neurons/__init__.py",
        "spikesparse/py.typed",
    ):
        assert member in names, f"{member} missing from {wheel.name}"
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_core_requirements_exclude_the_workflow(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [
        line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")
    ]
    core = {re.split(r"[<>=!\[ ;]", r)[0].lower() for r in requires if "extra ==" not in r}
    assert {"torch", "numpy"} <= core
    assert not core & WORKFLOW_ONLY, f"core install would pull {core & WORKFLOW_ONLY}"
    workflow = {re.split(r"[<>=!\[ ;]", r)[0].lower() for r in requires if 'extra == "workflow"' in r}
    assert WORKFLOW_ONLY <= workflow


def test_core_modules_import_without_workflow_packages(tmp_path):
    """The library modules must not import anything only the [workflow] extra installs."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        f"for name in {sorted(WORKFLOW_ONLY | {'yaml', 'sklearn', 'mnist1d'})!r}:\n"
        "    sys.modules[name] = None  # import fails like a missing package\n"
    )
    code = (
        "import spikesparse.api, spikesparse.interop.recorders, spikesparse.metrics, spikesparse.conversion\n"
        "import torch\n"  # the conversion's simulation draws its input spikes (spikesparse.draws)
        "spikesparse.conversion._input_spikes(torch.rand(3, 4), torch.Generator().manual_seed(0))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO / 'src'}"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _readme_block(marker: str) -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"README has no python block after <!-- {marker} -->"
    return match.group(1)


def test_readme_quickstart_is_the_tested_example():
    example = (REPO / "examples" / "snntorch_quickstart.py").read_text()
    assert _readme_block("quickstart") == example
    assert len([line for line in example.splitlines() if line.strip()]) <= 22


def test_quickstart_trains_and_prints_neurobench_metrics(tmp_path):
    pytest.importorskip("snntorch")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SPIKESPARSE_NO_EXT": "1"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "snntorch_quickstart.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = yaml.safe_load(proc.stdout.strip().splitlines()[-1])
    for name in ("ActivationSparsity", "Effective_ACs", "Effective_MACs", "Dense", "SynOps", "energy_pj"):
        assert name in printed
    assert printed["ActivationSparsity"] > 0.9, "the spike-count loss made the hidden layer sparse"


def test_catalog_files():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["title"] and cff["authors"]
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    assert set(catalog["usage"]) >= {"mandatory-flags", "software-stack-deployment", "report"}
    assert (REPO / "config" / "README.md").is_file()
    # The catalog's test config is the quick config that the workflow tests run.
    test_config = REPO / ".test" / "config" / "config.yaml"
    assert test_config.resolve() == (REPO / "config" / "quick.yaml").resolve()


def test_test_config_dry_run(tmp_path):
    """Snakemake builds the whole DAG of the .test config (dry run: nothing is computed)."""
    cmd = [
        *(sys.executable, "-m", "snakemake", "-n", "--quiet", "all", "--cores", "1"),
        *("--configfile", str(REPO / ".test" / "config" / "config.yaml"), "--directory", str(tmp_path)),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
