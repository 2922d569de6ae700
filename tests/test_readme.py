"""The README's verdict table and the study pages' generated sections (results, metric, figure
and speed tables) are what the reference tables, the code and the benchmark files generate; the
README stays short and the config reference lives in one place (config/README.md)."""

from pathlib import Path

import pandas as pd
import pytest

from spikesparse.study.analysis.claims import COLUMNS, REGISTRY
from spikesparse.tools import readme

REPO = Path(__file__).resolve().parents[1]


def test_results_are_regenerated_from_reference():
    """The README's verdict table and the results page equal what the generator makes of
    reference/ (or, while reference/ has no tables, the statement that there are none): they can
    never be typed by hand."""
    fix = "run: spikesparse results-section --tables reference --readme README.md"
    text = (REPO / "README.md").read_text()
    verdicts = readme.current_section(text, readme.VERDICTS_START, readme.VERDICTS_END)
    assert verdicts == readme.verdicts_section_for(REPO / "reference"), fix
    page = (REPO / readme.RESULTS_FILE).read_text()
    assert readme.current_section(page, readme.START, readme.END) == readme.section_for(REPO / "reference"), (
        fix
    )
    claims = pd.read_csv(REPO / "reference" / "claims.csv")
    assert verdicts.count("\n| ") == len(claims) + 1  # every claim row, and the header


def test_readme_is_short_and_links_every_study_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    for page in sorted((REPO / "docs" / "study").glob("*.md")):
        assert f"docs/study/{page.name}" in text, page.name
    for target in ("config/README.md", "CHANGELOG.md", "CITATION.cff"):
        assert target in text and (REPO / target).is_file()
    assert "## Config reference" not in text  # one config reference: config/README.md


def test_section_lists_every_claim_row_and_rule(tmp_path):
    claims = pd.DataFrame(
        [{c: "x" for c in COLUMNS} | {"claim_id": "002-iso", "verdict": "held", "experiment": "e2_a"}]
    )
    claims.to_csv(tmp_path / "claims.csv", index=False)
    summary = pd.DataFrame(
        [
            {
                "experiment": "e2_a",
                "dataset": "mnist1d",
                "family": "baseline",
                "accuracy_mean": 0.6,
                "accuracy_ci_low": 0.55,
                "accuracy_ci_high": 0.65,
                "val_accuracy_mean": 0.61,
                "train_accuracy_mean": 0.9,
                "n_seeds": 5,
            }
        ]
    )
    summary.to_csv(tmp_path / "summary.csv", index=False)
    md = readme.results_markdown(tmp_path)
    assert md.startswith(readme.START) and md.endswith(readme.END)
    assert "| 002-iso | e2_a |" in md and "**held**" in md
    assert "0.900 | 0.610 | 0.600 [0.550, 0.650] | 5 | MLP ~68 %" in md
    for claim_id in REGISTRY:
        assert f"**{claim_id}**" in md


def test_section_without_reference_tables_says_so(tmp_path):
    assert readme.section_for(tmp_path) == readme.placeholder_section()
    assert "No reference results" in readme.placeholder_section()


def test_replace_section_refuses_a_readme_without_markers():
    with pytest.raises(ValueError, match="markers"):
        readme.replace_section("no markers here", "x")
    out = readme.replace_section(f"a\n{readme.START}\nold\n{readme.END}\nb", "NEW")
    assert out == "a\nNEW\nb"


@pytest.mark.parametrize("name", ["metrics", "figures"])
def test_readme_catalog_tables_are_generated_from_the_code(name):
    """The metric table (``metric_catalog``) and the figure table (``figure_registry``) are what the
    declarations generate: a metric or figure added there must reach the README too."""
    start, end, expected = readme.catalog_sections()[name]
    section = readme.current_section((REPO / readme.SECTION_FILES[name]).read_text(), start, end)
    assert section == expected, "run: .venv/bin/python -m spikesparse.tools.readme README.md"


@pytest.mark.parametrize("name", sorted(readme.BENCHMARK_FILES))
def test_readme_speed_tables_are_generated_from_the_committed_benchmarks(name):
    """docs/study/performance.md's kernel and study tables are what ``benchmarks/results/*.json`` (in the
    repository) generate: a new ``make bench`` or ``make bench-study`` must reach the README, and
    no figure in those tables can be typed by hand."""
    assert (REPO / readme.BENCHMARK_FILES[name][0]).exists()
    start, end, expected = readme.benchmark_sections(REPO)[name]
    section = readme.current_section((REPO / readme.SECTION_FILES[name]).read_text(), start, end)
    assert section == expected, "run: .venv/bin/python -m spikesparse.tools.readme README.md"


def test_benchmark_sections_read_the_files_or_say_what_writes_them(tmp_path):
    missing = readme.benchmark_sections(tmp_path)
    assert "`make bench` writes it" in missing["kernel-benchmark"][2]
    assert "`make bench-study` writes it" in missing["study-benchmark"][2]
    for name in readme.BENCHMARK_FILES:
        src = REPO / readme.BENCHMARK_FILES[name][0]
        dst = tmp_path / readme.BENCHMARK_FILES[name][0]
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(src.read_text())
    found = readme.benchmark_sections(tmp_path)
    assert "| 1 | W1 |" in found["kernel-benchmark"][2]
    assert "| train |" in found["study-benchmark"][2] and "study efficiency" in found["study-benchmark"][2]


def test_catalog_sections_are_rewritten_in_place(tmp_path):
    sections = readme.generated_sections(tmp_path)
    for name, rel in readme.SECTION_FILES.items():
        start, end, _ = sections[name]
        page = tmp_path / rel
        page.parent.mkdir(parents=True, exist_ok=True)
        old = page.read_text() if page.exists() else ""
        page.write_text(old + f"before {start}\nold\n{end} after\n")
    (tmp_path / "README.md").write_text("# a README\n")
    readme.main([str(tmp_path / "README.md")])
    for name, rel in readme.SECTION_FILES.items():
        out = (tmp_path / rel).read_text()
        assert "old" not in out and sections[name][2] in out
    with pytest.raises(ValueError, match="markers"):
        readme.current_section("nothing", *list(sections.values())[0][:2])


def test_config_reference_names_every_schema_key():
    """Every key the schema allows at the top level and directly under an experiment, a regime map
    or a conversion has a row in the config reference, config/README.md (a new key must be
    documented)."""
    import yaml

    schema = yaml.safe_load((REPO / "src" / "spikesparse" / "study" / "config.schema.yaml").read_text())
    text = (REPO / "config" / "README.md").read_text()
    reference = text.split("## Config reference", 1)[1].split("\n## ", 1)[0]
    missing = [f"`{key}" for key in schema["properties"] if f"`{key}" not in reference]
    for top, placeholder in (("experiments", "<id>"), ("regime_maps", "<map>"), ("conversions", "<id>")):
        (entry,) = schema["properties"][top]["patternProperties"].values()
        for key in entry["properties"]:
            row = f"`{top}.{placeholder}.{key}"
            if row not in reference and not (
                key == "description" and "`experiments.<id>.description" in reference
            ):
                missing.append(row)
    assert not missing, f"keys without a row in config/README.md's reference: {missing}"
