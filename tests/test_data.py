import numpy as np
import pytest

from spikesparse.study.data import ANOMALY_KINDS, generate, make_anomaly_dataset

SMALL = dict(n_train=300, n_val=50, n_test=150, n_channels=6, n_steps=60, seed=3)


def test_shapes_and_ranges():
    d = make_anomaly_dataset(**SMALL)
    for split, n in (("train", 300), ("val", 50), ("test", 150)):
        assert d[f"x_{split}"].shape == (n, 60, 6)
        assert d[f"x_{split}"].dtype == np.float32
        assert d[f"y_{split}"].shape == (n,)
    x = np.concatenate([d["x_train"], d["x_test"]])
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_label_balance_follows_fraction():
    d = make_anomaly_dataset(**SMALL, anomaly_fraction=0.3)
    y = np.concatenate([d["y_train"], d["y_val"], d["y_test"]])
    assert abs(y.mean() - 0.3) < 0.01
    assert 0.15 < d["y_test"].mean() < 0.45  # both classes in every split


def test_deterministic_by_seed():
    a, b = make_anomaly_dataset(**SMALL), make_anomaly_dataset(**SMALL)
    c = make_anomaly_dataset(**{**SMALL, "seed": 4})
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["x_train"], c["x_train"])


def test_every_kind_present_and_only_in_anomalies():
    d = make_anomaly_dataset(**SMALL)
    kinds, y = d["kind_train"], d["y_train"]
    assert ((kinds >= 0) == (y == 1)).all()
    assert set(np.unique(kinds[kinds >= 0])) == set(range(len(ANOMALY_KINDS)))


def test_anomalies_actually_change_the_signal():
    """Dropout leaves flat zero runs and spike bursts hit 1.0; normal samples have neither."""
    d = make_anomaly_dataset(**{**SMALL, "noise": 0.02})
    x, kinds = d["x_train"], d["kind_train"]
    normal = x[kinds == -1]
    dropout = x[kinds == ANOMALY_KINDS.index("dropout")]
    spikes = x[kinds == ANOMALY_KINDS.index("spike")]

    def has_flat_zero_run(sample, length=5):
        zero = (sample == 0).astype(int)
        return any(
            (np.convolve(zero[:, c], np.ones(length), "valid") == length).any()
            for c in range(sample.shape[1])
        )

    assert all(has_flat_zero_run(s) for s in dropout)
    assert not any(has_flat_zero_run(s) for s in normal)
    assert (spikes.max(axis=(1, 2)) == 1.0).all()
    assert (normal.max(axis=(1, 2)) < 0.95).all()


def test_generate_records_params_and_checksum():
    arrays, meta = generate("anomaly", SMALL)
    assert meta["params"] == SMALL and meta["n_classes"] == 2
    _, meta2 = generate("anomaly", SMALL)
    assert meta["checksum_sha256"] == meta2["checksum_sha256"]
    with pytest.raises(ValueError, match="unknown dataset"):
        generate("imagenet", {})
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        make_anomaly_dataset(kinds=["glitch"])


def test_digits_and_mnist1d_splits_are_stratified_scaled_and_checksummed():
    from spikesparse.study.data import generate
    from spikesparse.study.registry import dataset_is_static

    for name, params in (("digits", {"seed": 0}), ("mnist1d", {"n_samples": 600, "seed": 42})):
        arrays, meta = generate(name, params)
        assert dataset_is_static(name, params) and arrays["x_train"].ndim == 2 and meta["n_classes"] == 10
        n = sum(len(arrays[f"y_{s}"]) for s in ("train", "val", "test"))
        assert n == (1797 if name == "digits" else 600)
        for split in ("train", "val", "test"):
            x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
            assert x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
            assert set(np.unique(y)) == set(range(10)), (name, split)  # every class in every split
        again, meta2 = generate(name, params)
        assert meta2["checksum_sha256"] == meta["checksum_sha256"]
        assert len(meta["checksum_sha256"]) == 64


def test_mnist1d_generator_leaves_numpy_global_state_alone():
    from spikesparse.study.data import make_mnist1d_dataset

    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    make_mnist1d_dataset(n_samples=200)
    assert np.random.rand() == expected


def test_bad_split_fractions_are_rejected():
    from spikesparse.study.data import make_digits_dataset

    with pytest.raises(ValueError, match="fraction"):
        make_digits_dataset(val_fraction=0.5, test_fraction=0.6)


def test_mnist1d_is_standardized_per_feature_on_the_training_split_only():
    from spikesparse.study.data import STANDARD_SPAN_SD, ann_input_affine, make_mnist1d_dataset

    data = make_mnist1d_dataset(n_samples=600, seed=3)
    z = (data["x_train"].astype(np.float64) - 0.5) * 2 * STANDARD_SPAN_SD
    inside = np.abs(z) < STANDARD_SPAN_SD - 1e-6  # clipping beyond +-3 SD shifts the moments a little
    assert np.abs(z.mean(axis=0)).max() < 0.1
    assert np.all((data["x_test"] >= 0) & (data["x_test"] <= 1))
    assert inside.mean() > 0.98
    # the test split never informs the scaling: a wild test split leaves train and val as they were
    from spikesparse.study.data import _scale_features

    rng = np.random.default_rng(0)
    raw = {f"x_{s}": rng.normal(5, 2, (50, 4)).astype(np.float32) for s in ("train", "val", "test")}
    wild = {**raw, "x_test": raw["x_test"] * 100}
    a, b = dict(raw), dict(wild)
    _scale_features(a, "standard")
    _scale_features(b, "standard")
    assert np.array_equal(a["x_train"], b["x_train"]) and np.array_equal(a["x_val"], b["x_val"])
    assert ann_input_affine({"name": "mnist1d", "scaling": "standard"}) == (6.0, -3.0)
    assert ann_input_affine({"name": "digits"}) == (1.0, 0.0)
    with pytest.raises(ValueError, match="scaling"):
        make_mnist1d_dataset(n_samples=600, scaling="robust")


def test_static_is_the_generators_declaration_and_its_arrays_must_agree(monkeypatch):
    """One rule (plugins.declares_static): config checks and evaluation read the generator's
    flag, and a generator whose arrays contradict it is stopped when the dataset is built."""
    from spikesparse.study import data as D
    from spikesparse.study.registry import dataset_is_static

    assert dataset_is_static("digits", {}) and not dataset_is_static("anomaly", {})
    real = D.GENERATORS["digits"]

    def sequence_digits(**params):
        arrays = real(**params)
        return {k: (v[:, None, :] if k.startswith("x_") else v) for k, v in arrays.items()}

    sequence_digits.static = True
    monkeypatch.setitem(D.GENERATORS, "digits", sequence_digits)
    with pytest.raises(
        ValueError, match=r"dataset 'digits': its generator declares it static: x \[n, F\], but x_train"
    ):
        D.generate("digits", {"seed": 0})


def test_the_dataset_file_holds_the_arrays_a_plugin_returns():
    from spikesparse import plugins
    from spikesparse.study import data

    assert data.DATASET_ARRAYS == plugins.DATASET_ARRAYS
