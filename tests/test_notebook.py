"""The analysis notebook: its helpers, figure display under a headless backend, the generated
report description, and the executed notebook of the quick study (one PNG per figure, no error)."""

from __future__ import annotations

import base64
import re
import shutil
from html import unescape
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from docutils.core import publish_parts
from jinja2 import Environment
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook, new_output

from spikesparse.study import paths
from spikesparse.study.config import load_config, validate_config
from spikesparse.study.report import figure_registry, notebook
from tests.conftest import QUICK_CONFIG, REPO
from tests.workflow.quick_study import quick_study

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPLICATION = "| check | ok |\n| --- | --- |\n| a | yes |\n"


@pytest.fixture
def runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "study": ["e1", "e1", "e1", "e2", "e2"],
            "experiment": ["e1", "e1", "e1_deep", "e2_digits", "e2_digits"],
            "method": ["baseline", "homeostatic_l2", "homeostatic_l2", "baseline", "spike_count"],
            "lam": [0.0, 0.1, 0.1, 0.0, 10.0],
            "seed": [0, 0, 1, 0, 1],
        }
    )


def test_select_filters_each_column_and_compares_lambda_as_a_number(runs):
    assert len(notebook.select(runs, experiment="e1")) == 2
    assert len(notebook.select(runs, method=["baseline", "spike_count"])) == 3
    assert list(notebook.select(runs, lam="0.1", seed=1)["experiment"]) == ["e1_deep"]
    assert list(notebook.select(runs, lam=10)["method"]) == ["spike_count"]
    assert len(notebook.select(runs, study="e2")) == 2
    no_study = runs.drop(columns="study")
    assert len(notebook.select(no_study, study="e1")) == 3  # from the experiment's prefix
    assert notebook.select(runs, study="e3").empty


def test_regimes_are_the_e1_experiments_and_select_rejects_unknown_ones(runs):
    assert notebook.regimes(runs) == ["e1", "e1_deep"]
    assert notebook.regimes(runs.drop(columns="study")) == ["e1", "e1_deep"]
    assert list(notebook.select(runs, regime="e1_deep")["seed"]) == [1]
    with pytest.raises(ValueError, match="e2_digits"):
        notebook.select(runs, regime="e2_digits")


def test_select_names_a_missing_column_and_a_bad_lambda(runs):
    with pytest.raises(ValueError, match="'seed'"):
        notebook.select(runs.drop(columns="seed"), seed=0)
    with pytest.raises(ValueError, match="lambda must be a number"):
        notebook.select(runs, lam="big")
    with pytest.raises(TypeError, match="DataFrame"):
        notebook.select(runs.to_dict(), method="baseline")


def test_study_of_reads_the_prefix():
    assert notebook.study_of("e2_digits") == "e2"
    assert notebook.study_of("e10_new") == "e10"
    with pytest.raises(ValueError, match="'digits'"):
        notebook.study_of("digits")


def test_claims_in_words_come_from_the_rows_whatever_the_columns():
    claims = pd.DataFrame(
        {
            "claim_id": ["000-overshoot", "002-iso"],
            "experiment": ["e1", "e2_digits"],
            "claim": ["homeostatic L2 overshoots its target.", "70 % fewer spikes"],
            "our_value": ["0.21 [0.18, 0.25]", "0.4"],
            "verdict": ["some-verdict", "other-verdict"],
            "reason": ["the interval lies above", float("nan")],
            "new_column": [1, 2],
        }
    )
    text = notebook.describe_claims(notebook.claims_for(claims, "e1"))
    assert text.count("\n") == 0 and "**000-overshoot** (e1)" in text
    assert "overshoots its target. Ours: 0.21 [0.18, 0.25]." in text
    assert "Verdict: **some-verdict** (the interval lies above)." in text
    assert "002-iso" not in text
    e2 = notebook.describe_claims(notebook.claims_for(claims, "e2"))
    assert "Verdict: **other-verdict**." in e2  # no reason given: none invented
    minimal = notebook.describe_claims(claims[["claim_id", "experiment"]])
    assert minimal.splitlines() == ["- **000-overshoot** (e1):", "- **002-iso** (e2_digits):"]
    assert "No claim row" in notebook.describe_claims(notebook.claims_for(claims, "e5"))


def test_figure_groups_follow_the_registry_and_take_new_studies():
    groups = notebook.figure_groups()
    assert [n for names in groups.values() for n in names] == list(figure_registry.FIGURE_TITLES)
    assert all(name.startswith(f"{study}_") for study, names in groups.items() for name in names)
    extra = notebook.figure_groups(["e2_b", "e1_a", "e2_a", "e6_new"])
    assert extra == {"e2": ["e2_b", "e2_a"], "e1": ["e1_a"], "e6": ["e6_new"]}


def test_helpers_table_lists_every_helper_with_its_docstring():
    table = notebook.helpers_markdown()
    for name, func in notebook.HELPERS.items():
        assert f"`{name}(" in table
        assert func.__doc__.splitlines()[0].strip() in table


def _outputs(cells: list) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell("", outputs=outputs) for outputs in cells])


def _image(name: str) -> dict:
    return new_output(
        "display_data", data={"image/png": "iVBORw0KGgo="}, metadata={notebook.FIGURE_KEY: name}
    )


def test_check_executed_wants_one_png_per_figure_and_no_error():
    names = ["e1_a", "e2_b"]
    notebook.check_executed(_outputs([[_image("e1_a")], [_image("e2_b")]]), names)
    with pytest.raises(ValueError, match=r"missing \['e2_b'\]"):
        notebook.check_executed(_outputs([[_image("e1_a")]]), names)
    with pytest.raises(ValueError, match=r"more than once \['e1_a'\]"):
        notebook.check_executed(_outputs([[_image("e1_a"), _image("e1_a")], [_image("e2_b")]]), names)
    text_only = new_output(
        "display_data", data={"text/plain": "<Figure>"}, metadata={notebook.FIGURE_KEY: "e2_b"}
    )
    with pytest.raises(ValueError, match=r"without a PNG \['e2_b'\]"):
        notebook.check_executed(_outputs([[_image("e1_a")], [text_only]]), names)
    error = new_output("error", ename="KeyError", evalue="'study'", traceback=[])
    with pytest.raises(ValueError, match="KeyError"):
        notebook.check_executed(_outputs([[_image("e1_a"), _image("e2_b")], [error]]), names)


def test_figure_png_is_a_png_under_the_agg_backend():
    import matplotlib

    from spikesparse.study.report import plots  # selects Agg

    assert matplotlib.get_backend().lower() == "agg"
    name = next(n for n in plots.DRAWERS if n.startswith("e4_"))
    png = notebook.figure_png(name, {"conversion": pd.DataFrame()})  # no conversion: a note figure
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    with pytest.raises(ValueError, match="unknown figure 'e9_nothing'"):
        notebook.figure_png("e9_nothing", {})


def test_tables_load_when_first_used(tmp_path):
    tables_dir = tmp_path / "results" / "tables"
    tables_dir.mkdir(parents=True)
    pd.DataFrame({"experiment": ["e1"], "seed": [0]}).to_csv(tables_dir / "runs.csv", index=False)
    tables = notebook.load_tables(tmp_path / "results")
    assert list(tables) == list(paths.AGGREGATE_TABLES) and len(tables) == len(paths.AGGREGATE_TABLES)
    assert "read: none yet" in repr(tables)
    assert tables["runs"]["experiment"].tolist() == ["e1"]
    assert tables["runs"] is tables["runs"]  # read once
    assert "read: runs" in repr(tables)
    with pytest.raises(FileNotFoundError):
        tables["rasters"]  # absent: read only when asked for
    with pytest.raises(KeyError, match="no table 'nothing'"):
        tables["nothing"]


def test_a_drawn_figure_file_is_shown_as_it_is_else_the_figure_is_drawn(tmp_path):
    name = next(n for n in figure_registry.FIGURE_TITLES if n.startswith("e4_"))
    drawn = PNG_MAGIC + b"the figures job drew this"
    (tmp_path / f"{name}.png").write_bytes(drawn)
    assert notebook.drawn_figure(name, tmp_path) == drawn
    assert notebook.drawn_figure(name, tmp_path / "elsewhere") is None
    assert notebook.drawn_figure(name, None) is None
    with pytest.raises(ValueError, match="unknown figure 'e9_nothing'"):
        notebook.drawn_figure("e9_nothing", tmp_path)


def _kernel(cells: list[str], cwd: Path) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def test_in_a_kernel_figures_display_as_png_and_replication_says_whether_it_ran(tmp_path):
    """A past bug: with the Agg backend a figure cell had no output. In a real kernel,
    show_figure gives one PNG output tagged with the figure's name whatever the backend."""
    tables = tmp_path / "tables"
    tables.mkdir()
    name = next(n for n in figure_registry.FIGURE_TITLES if n.startswith("e4_"))
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / f"{name}.png").write_bytes(notebook.figure_png(name, {"conversion": pd.DataFrame()}))
    nb = _kernel(
        [
            "import matplotlib; matplotlib.use('Agg')\n"
            "import pandas as pd\n"
            "from spikesparse.study.report.notebook import show_figure, show_replication",
            f"show_figure({name!r}, {{'conversion': pd.DataFrame()}})",
            f"show_replication({str(tmp_path)!r})",
            f"open({str(tables / 'replication.md')!r}, 'w').write({REPLICATION!r})\n"
            f"show_replication({str(tmp_path)!r})",
            # with the figures folder: the drawn file itself, nothing drawn (no tables given)
            f"show_figure({name!r}, {{}}, figures={str(figures)!r})",
        ],
        tmp_path,
    )
    notebook.check_executed({"cells": nb.cells[:4]}, [name])
    fig_cell = nb.cells[1].outputs
    assert [o["output_type"] for o in fig_cell] == ["display_data", "display_data"]
    assert figure_registry.FIGURE_TITLES[name] in fig_cell[0]["data"]["text/markdown"]
    assert "did not run" in nb.cells[2].outputs[0]["data"]["text/markdown"]
    assert "| a | yes |" in nb.cells[3].outputs[0]["data"]["text/markdown"]
    shown = base64.b64decode(nb.cells[4].outputs[1]["data"]["image/png"])
    assert shown == (figures / f"{name}.png").read_bytes()


# The report's workflow description (workflow/report/workflow.rst) is a Jinja2 template that
# Snakemake renders with the run's config; render it the same way (same Environment options).
def _describe(config: dict) -> str:
    class Snakemake:
        pass

    Snakemake.config = config
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    text = env.from_string((REPO / "workflow" / "report" / "workflow.rst").read_text())
    return text.render(snakemake=Snakemake)


@pytest.mark.parametrize("config_file", [QUICK_CONFIG, REPO / "config.yaml"], ids=["quick", "full"])
def test_report_description_names_the_configs_experiments_models_and_methods(config_file):
    config = load_config(config_file)
    text = _describe(config)
    html = publish_parts(text, writer="html", settings_overrides={"halt_level": 2})["html_body"]
    for name, exp in config["experiments"].items():
        line = next(line for line in text.splitlines() if line.startswith(f"- **{name}**"))
        assert f"{exp['model']['kind']} LIF SNN" in line
        assert f"``{exp['dataset']}``" in line
        for method in exp["methods"]:
            assert f"``{method}``" in line
    for name in config.get("conversions", {}):
        assert f"- **{name}** (study E4" in text
    assert "one recurrent LIF SNN per" not in html
    from spikesparse.study.runs import expand_runs

    assert f"trains {len(expand_runs(config))} SNN(s)" in text


def test_report_description_follows_a_changed_config():
    config = yaml.safe_load(QUICK_CONFIG.read_text())
    config["experiments"] = {"e1": config["experiments"]["e1"]}
    config["conversions"] = {}
    text = _describe(validate_config(config))
    assert "e2_digits" not in text and "e4_digits" not in text
    assert "ANN to SNN conversions" in text and "none in this config" in text
    publish_parts(text, writer="html", settings_overrides={"halt_level": 2})


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    return quick_study(tmp_path_factory)


def _check_figures(nb: nbformat.NotebookNode) -> None:
    notebook.check_executed(nb)  # every registered figure exactly once as PNG, no error output
    found = notebook.figure_outputs(nb)
    for name, (out,) in found.items():
        assert out["output_type"] == "display_data"
        assert len(out["data"]["image/png"]) > 1000, name
    order = [name for cell in nb.cells for name in notebook.figure_outputs({"cells": [cell]})]
    assert order == list(figure_registry.FIGURE_TITLES), "figures follow the registry order"


@pytest.mark.workflow
def test_quick_study_notebook_shows_every_figure(study):
    nb = nbformat.read(study / paths.NOTEBOOK_EXECUTED, as_version=4)
    _check_figures(nb)
    text = "\n".join(
        str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells for o in c.get("outputs", [])
    )
    for title in figure_registry.FIGURE_TITLES.values():
        assert title in text
    claims = pd.read_csv(study / paths.CLAIMS_CSV)
    for claim_id in claims["claim_id"]:
        assert f"**{claim_id}**" in text  # each claim row in words under its study
    html = (study / paths.NOTEBOOK_HTML).read_text()
    alts = re.findall(r'<img alt="([^"]*)"\s+src="data:image/png;base64,', html)
    assert [unescape(a) for a in alts] == list(figure_registry.FIGURE_TITLES.values())  # titles as alt text
    assert "cdnjs.cloudflare.com/ajax/libs/require.js" not in html  # opens offline


@pytest.mark.workflow
def test_notebook_on_tiny_tables_with_missing_studies(study, tmp_path):
    """One seed, E3 and the conversion sweep left out: every figure still shows (a note where its
    study is missing), and the notebook executes without an error output."""
    results = tmp_path / "results"
    tables = results / "tables"
    shutil.copytree(study / paths.TABLES, tables)
    for name in ("runs", "history", "neurons", "rasters", "summary"):
        path = tables / Path(paths.AGGREGATE_TABLES[name]).name
        df = pd.read_csv(path)
        if "study" in df:
            df = df[df["study"] != "e3"]
        if "seed" in df:
            df = df[df["seed"] == df["seed"].min()]
        df.to_csv(path, index=False)
    conversion = tables / Path(paths.CONVERSION_TABLE).name
    pd.read_csv(conversion).head(0).to_csv(conversion, index=False)
    for replication in (paths.REPLICATION_MD, paths.REPLICATION_CSV):
        (tables / Path(replication).name).unlink(missing_ok=True)
    executed, html = tmp_path / "analysis.ipynb", tmp_path / "analysis.html"
    nb_path = str(REPO / "notebooks" / "analysis.ipynb")
    notebook.execute_notebook(nb_path, str(executed), str(html), {"results_dir": str(results)})
    nb = nbformat.read(executed, as_version=4)
    _check_figures(nb)
    assert "replication check did not run" in executed.read_text()
    assert "no conversion experiment in this config" in executed.read_text()
