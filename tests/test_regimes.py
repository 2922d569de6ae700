"""Drive knobs of the model (init_scale, bias) and the regime maps expanded from the config."""

import copy

import pandas as pd
import pytest
import torch

from spikesparse.models import SpikingNet, build_model
from spikesparse.neurons import LIFParams
from spikesparse.study.config import ConfigError, expand_regime_maps, validate_config
from spikesparse.study.report import figure_registry, plots
from spikesparse.study.runs import RunKey, expand_runs, run_spec

MODEL = {"kind": "recurrent", "hidden": [7, 5], "readout_beta": 0.9, "neuron": {}}


def _map(**overrides) -> dict:
    spec = {
        "base": "e1",
        "knobs": [
            {"path": "encoding.gain", "label": "g", "values": [1.0, 2.5]},
            {"path": "model.init_scale", "label": "s", "values": [1.5]},
        ],
        "seeds": [0, 1, 2],
        "methods": {
            "baseline": {"regularizer": "none"},
            "homeostatic_l2": {
                "regularizer": "homeostatic_l2",
                "target_rate": 0.05,
                "scope": "neuron",
                "lambdas": [1.0, 10.0],
            },
            "homeostatic_l2_layer": {
                "regularizer": "homeostatic_l2",
                "target_rate": 0.05,
                "scope": "layer",
                "lambdas": [1.0, 10.0],
            },
        },
    }
    spec.update(overrides)
    return spec


def _with_map(quick_config: dict, **overrides) -> dict:
    cfg = copy.deepcopy(quick_config)
    cfg.setdefault("regime_maps", {})
    cfg["regime_maps"] = {"testmap": _map(**overrides)}
    return cfg


def _state(net: torch.nn.Module) -> dict:
    return {k: v.clone() for k, v in net.state_dict().items()}


# --- model knobs -------------------------------------------------------------------------------


@pytest.mark.parametrize("recurrent", [True, False])
def test_default_knobs_leave_the_model_bit_identical(recurrent):
    """init_scale=1, bias=0 (the defaults) draw exactly the parameters the model drew before the
    knobs existed: the same random stream, no extra op on any tensor."""
    torch.manual_seed(3)
    plain = SpikingNet(6, [8, 5], 3, LIFParams(), recurrent=recurrent)
    torch.manual_seed(3)
    knobs = SpikingNet(6, [8, 5], 3, LIFParams(), recurrent=recurrent, init_scale=1.0, bias=0.0)
    torch.manual_seed(3)
    spec = {**MODEL, "hidden": [8, 5], "kind": "recurrent" if recurrent else "feedforward"}
    old_spec = build_model(spec, n_in=6, n_out=3)  # a spec written before the knobs existed
    a, b, c = _state(plain), _state(knobs), _state(old_spec)
    assert a.keys() == b.keys() == c.keys()
    for k in a:
        assert torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]), k
    x = (torch.rand(9, 2, 6) < 0.5).float()
    assert torch.equal(plain(x).logits, knobs(x).logits)


def test_init_scale_and_bias_act_on_hidden_layers_only():
    torch.manual_seed(0)
    plain = _state(build_model(MODEL, n_in=4, n_out=2))
    torch.manual_seed(0)
    driven = _state(build_model({**MODEL, "init_scale": 2.5, "bias": 0.3}, n_in=4, n_out=2))
    for i in range(2):
        assert torch.allclose(driven[f"layers.{i}.weight"], 2.5 * plain[f"layers.{i}.weight"])
        assert torch.allclose(driven[f"w_rec.{i}"], 2.5 * plain[f"w_rec.{i}"])
        assert torch.allclose(driven[f"layers.{i}.bias"], plain[f"layers.{i}.bias"] + 0.3)
    assert torch.equal(driven["readout.weight"], plain["readout.weight"])
    assert torch.equal(driven["readout.bias"], plain["readout.bias"])


def test_more_drive_means_more_spikes():
    x = (torch.rand(30, 16, 10, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    rates = []
    for scale, bias in [(1.0, 0.0), (3.0, 0.0), (1.0, 0.5)]:
        torch.manual_seed(0)
        net = build_model({**MODEL, "hidden": [32], "init_scale": scale, "bias": bias}, n_in=10, n_out=2)
        rates.append(float(net(x).hidden_spikes[0].detach().mean()))
    assert rates[1] > rates[0] and rates[2] > rates[0]


@pytest.mark.parametrize("bad", [{"init_scale": 0.0}, {"init_scale": float("nan")}, {"bias": float("inf")}])
def test_model_rejects_bad_knobs(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SpikingNet(3, [4], 2, LIFParams(), **bad)


# --- schema validation of the knobs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("init_scale", 0, "experiments.e1.model.init_scale"),
        ("init_scale", -1.0, "experiments.e1.model.init_scale"),
        ("init_scale", "big", "experiments.e1.model.init_scale"),
        ("init_scale", float("nan"), "experiments.e1.model.init_scale"),
        ("bias", 50.0, "experiments.e1.model.bias"),
        ("bias", [0.1], "experiments.e1.model.bias"),
        ("init_scal", 2.0, "experiments.e1.model"),
    ],
)
def test_schema_rejects_bad_model_knobs(quick_config, key, value, where):
    quick_config["experiments"]["e1"]["model"][key] = value
    with pytest.raises(ConfigError) as err:
        validate_config(quick_config)
    assert where in str(err.value)


def test_schema_defaults_keep_todays_model(quick_config):
    cfg = validate_config(quick_config)
    spec = run_spec(cfg, RunKey("e1", "baseline", "0.0", 0))
    assert spec["model"]["init_scale"] == 1.0 and spec["model"]["bias"] == 0.0
    assert "regime" not in spec


# --- regime maps -------------------------------------------------------------------------------


def test_regime_map_expands_into_plain_experiments(quick_config):
    cfg = validate_config(_with_map(quick_config))
    cells = [n for n in cfg["experiments"] if n.startswith("testmap_")]
    assert cells == ["testmap_g1_s1p5", "testmap_g2p5_s1p5"]
    cell = cfg["experiments"]["testmap_g2p5_s1p5"]
    assert cell["regime"] == {"map": "testmap", "knobs": {"encoding.gain": 2.5, "model.init_scale": 1.5}}
    assert cell["encoding"]["gain"] == 2.5 and cell["model"]["init_scale"] == 1.5
    assert cell["study"] == "e1" and cell["dataset"] == "anomaly"
    assert cell["training"]["seeds"] == [0, 1, 2]
    assert sorted(cell["methods"]) == ["baseline", "homeostatic_l2", "homeostatic_l2_layer"]
    assert cell["methods"]["homeostatic_l2_layer"]["scope"] == "layer"
    # The base is untouched (its own gain and seeds), the cell copied the rest of it.
    base = cfg["experiments"]["e1"]
    assert base["model"]["init_scale"] == 1.0 and base["training"]["seeds"] == [0, 1]
    assert cell["model"]["hidden"] == base["model"]["hidden"]
    assert cell["training"]["epochs"] == base["training"]["epochs"]
    # 2 cells x (1 baseline + 2 scopes x 2 lambdas) x 3 seeds.
    assert len(expand_runs(cfg, ["testmap_g1_s1p5", "testmap_g2p5_s1p5"])) == 2 * 5 * 3
    spec = run_spec(cfg, RunKey("testmap_g2p5_s1p5", "homeostatic_l2_layer", "10.0", 2))
    assert spec["encoding"]["gain"] == 2.5 and spec["model"]["init_scale"] == 1.5
    assert spec["regime"] == {"map": "testmap", "knobs": ["encoding.gain", "model.init_scale"]}
    assert spec["regularizer"]["scope"] == "layer"


def test_regime_map_expansion_is_idempotent(quick_config):
    cfg = validate_config(_with_map(quick_config))
    again = validate_config(copy.deepcopy(cfg))
    assert list(again["experiments"]) == list(cfg["experiments"])
    assert again == cfg


def test_regime_map_seeds_default_to_the_base(quick_config):
    spec = _map()
    del spec["seeds"]
    cfg = copy.deepcopy(quick_config)
    cfg["regime_maps"] = {"testmap": spec}
    cfg = validate_config(cfg)
    assert cfg["experiments"]["testmap_g1_s1p5"]["training"]["seeds"] == [0, 1]


def test_integer_knob_stays_an_integer(quick_config):
    cfg = _with_map(quick_config, knobs=[{"path": "model.neuron.refractory", "label": "r", "values": [2, 4]}])
    cfg = validate_config(cfg)
    assert cfg["experiments"]["testmap_r2"]["model"]["neuron"]["refractory"] == 2
    assert isinstance(cfg["experiments"]["testmap_r4"]["model"]["neuron"]["refractory"], int)


def test_expand_without_maps_is_a_no_op(quick_config):
    quick_config.pop("regime_maps", None)
    cfg = copy.deepcopy(quick_config)
    assert expand_regime_maps(cfg) == []
    assert cfg == quick_config


def test_shipped_quick_map_expands(quick_config):
    """The quick config's map: two cells, both with the three methods, beside a plain e1."""
    cfg = validate_config(quick_config)
    cells = sorted(n for n, e in cfg["experiments"].items() if "regime" in e)
    assert cells == ["e1map_g1_s3", "e1map_g2_s3"]
    assert all(cfg["experiments"][c]["model"]["init_scale"] == 3.0 for c in cells)
    assert "regime" not in cfg["experiments"]["e1"]


KNOB = ("knobs", 0)


@pytest.mark.parametrize(
    ("case", "change", "text"),
    [
        ("unknown base", {"base": "e9"}, "regime_maps.testmap.base"),
        (
            "path does not exist",
            {"knobs": [{"path": "model.init_scael", "label": "s", "values": [1.0]}]},
            "regime_maps.testmap.knobs[0].path",
        ),
        (
            "path outside encoding/model",
            {"knobs": [{"path": "training.lr", "label": "l", "values": [0.1]}]},
            "regime_maps.testmap.knobs[0].path",
        ),
        (
            "path is not numeric",
            {"knobs": [{"path": "model.neuron.reset", "label": "r", "values": [1.0]}]},
            "regime_maps.testmap.knobs[0].path",
        ),
        (
            "zero value",
            {"knobs": [{"path": "encoding.gain", "label": "g", "values": [0.0, 1.0]}]},
            "regime_maps.testmap.knobs[0].values[0]",
        ),
        (
            "negative value",
            {"knobs": [{"path": "model.bias", "label": "b", "values": [-0.5]}]},
            "regime_maps.testmap.knobs[0].values[0]",
        ),
        (
            "value out of the key's range",
            {"knobs": [{"path": "model.neuron.beta", "label": "b", "values": [2.0]}]},
            "model.neuron.beta",
        ),
        (
            "duplicate labels",
            {
                "knobs": [
                    {"path": "encoding.gain", "label": "g", "values": [1.0]},
                    {"path": "model.init_scale", "label": "g", "values": [2.0]},
                ]
            },
            "duplicate labels",
        ),
        (
            "bad label",
            {"knobs": [{"path": "encoding.gain", "label": "G1", "values": [1.0]}]},
            "regime_maps.testmap.knobs[0].label",
        ),
        ("unknown map key", {"colour": "red"}, "regime_maps.testmap"),
        ("no methods", {"methods": {}}, "regime_maps.testmap.methods"),
        (
            "bad method",
            {"methods": {"baseline": {"regularizer": "none", "lambdas": [1.0]}}},
            "takes no lambda",
        ),
    ],
)
def test_regime_map_rejects_bad_input(quick_config, case, change, text):
    with pytest.raises(ConfigError) as err:
        validate_config(_with_map(quick_config, **change))
    assert text in str(err.value), case


def test_regime_map_cell_name_clash_is_an_error(quick_config):
    cfg = _with_map(quick_config)
    cfg["experiments"]["testmap_g1_s1p5"] = copy.deepcopy(cfg["experiments"]["e1"])
    with pytest.raises(ConfigError, match="testmap_g1_s1p5"):
        validate_config(cfg)


def test_value_out_of_range_names_the_map(quick_config):
    cfg = _with_map(quick_config, knobs=[{"path": "model.neuron.beta", "label": "b", "values": [2.0]}])
    with pytest.raises(ConfigError, match=r"regime_maps\.testmap"):
        validate_config(cfg)


# --- the e1_regime_map figure ------------------------------------------------------------------


def _tiny_runs() -> pd.DataFrame:
    """Runs table rows of a 2 x 2 map with a 2-lambda grid, as aggregation writes them."""
    rows = []
    for gain in (1.0, 2.0):
        for scale in (1.0, 3.0):
            exp = f"m_g{gain:g}_s{scale:g}"
            dense = 0.05 * gain * scale
            for seed in (0, 1):
                common = {
                    "experiment": exp,
                    "study": "e1",
                    "seed": seed,
                    "status": "ok",
                    "val_status": "ok",
                    "cfg.regime.map": "m",
                    "cfg.regime.knobs": "encoding.gain,model.init_scale",
                    "cfg.encoding.gain": gain,
                    "cfg.model.init_scale": scale,
                }
                rows.append(
                    {
                        **common,
                        "method": "baseline",
                        "family": "baseline",
                        "lam": 0.0,
                        "hidden_rate": dense,
                        "accuracy": 0.98,
                        "val_accuracy": 0.97,
                    }
                )
                for scope in ("neuron", "layer"):
                    for lam, val in ((1.0, 0.96), (10.0, 0.9)):
                        rows.append(
                            {
                                **common,
                                "method": f"hl2_{scope}",
                                "family": "homeostatic_l2",
                                "lam": lam,
                                "cfg.regularizer.scope": scope,
                                "cfg.regularizer.target_rate": 0.05,
                                "hidden_rate": dense / lam,
                                "accuracy": 0.95,
                                "val_accuracy": val,
                            }
                        )
    rows.append({**rows[0], "experiment": "e1", "cfg.regime.map": float("nan")})  # not on the map
    return pd.DataFrame(rows)


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def test_regime_map_figure_renders_from_a_tiny_table(tmp_path):
    fig = plots.regime_map(_tiny_runs(), "e1")
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 9  # 3 quantities x (baseline, neuron scope, layer scope)
    texts = _texts(fig)
    # Homeostatic cells show the validation-best lambda (1, val 0.96 > 0.90), not the other one.
    assert any("λ=1" in t for t in texts) and not any("λ=10" in t for t in texts)
    # The densest baseline cell: rate 0.3 = 6 x target; its image value is the mean over seeds.
    base_rate = heatmaps[0].images[0].get_array()
    assert base_rate.shape == (2, 2) and base_rate[1, 1] == pytest.approx(0.3)
    ratio = heatmaps[3].images[0].get_array()
    assert ratio[1, 1] == pytest.approx(6.0) and ratio[0, 0] == pytest.approx(1.0)
    assert heatmaps[0].get_xlabel() == "encoding.gain" and heatmaps[0].get_ylabel() == "model.init_scale"
    plots.save(fig, str(tmp_path / "map.png"))
    assert (tmp_path / "map.png").stat().st_size > 1000
    assert "e1_regime_map" in plots.DRAWERS and "e1_regime_map" in figure_registry.FIGURE_TITLES


def test_regime_map_figure_says_no_data():
    empty = _tiny_runs().iloc[0:0]
    for table in (empty, _tiny_runs().drop(columns=["cfg.regime.map"]), pd.DataFrame()):
        fig = plots.regime_map(table, "e1")
        assert any("no data" in t for t in _texts(fig))
        assert not any(ax.images for ax in fig.axes)


def test_regime_map_figure_marks_a_missing_method_column():
    runs = _tiny_runs()
    runs = runs[runs.get("cfg.regularizer.scope").fillna("neuron") != "layer"]
    fig = plots.regime_map(runs, "e1")
    assert sum(bool(ax.images) for ax in fig.axes) == 6
    assert sum("no data" in t for t in _texts(fig)) == 3
