"""spikesparse.optim.Adam against torch.optim.Adam (foreach=True, and foreach=False for the
single-tensor path the conversion ANN uses): the same bits, step for step."""

import subprocess
import sys

import pytest
import torch

from spikesparse import optim
from spikesparse.models import build_model
from spikesparse.optim import Adam


def _model(kind):
    torch.manual_seed(5)
    spec = {
        "kind": kind,
        "hidden": [24, 16] if kind == "feedforward" else [20],
        "neuron": {"beta": 0.9, "threshold": 1.0, "slope": 25.0},
        "init_scale": 3.0,
        "readout_beta": 0.9,
    }
    return build_model(spec, n_in=12, n_out=4)


@pytest.fixture(params=["compiled", "foreach ops"])
def adam_path(request, monkeypatch):
    """Both implementations of the foreach arithmetic: the compiled step and the foreach ops."""
    if request.param == "compiled":
        if optim._compiled_step() is None:
            pytest.skip("compiled kernels unavailable (SPIKESPARSE_NO_EXT=1 or no compiler)")
    else:
        monkeypatch.setattr(optim, "_compiled_step", lambda: None)
    return request.param


@pytest.mark.parametrize("kind", ["feedforward", "recurrent"])
@pytest.mark.parametrize("lr", [1e-3, 3e-3])
def test_same_parameters_as_torch_adam_after_every_step(kind, lr, adam_path):
    ours, theirs = _model(kind), _model(kind)
    opt_ours = Adam(ours.parameters(), lr=lr)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=lr, foreach=True)
    gen = torch.Generator().manual_seed(1)
    for step in range(12):
        x = (torch.rand(10, 8, 12, generator=gen) < 0.4).float()
        y = torch.randint(0, 4, (8,), generator=gen)
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            out = model(x)
            loss = torch.nn.functional.cross_entropy(out.logits, y) + 0.1 * out.hidden_spikes[0].mean()
            opt.zero_grad() if opt is opt_ours else opt.zero_grad(set_to_none=True)
            loss.backward()
            if step == 3:  # a parameter without a gradient this step: skipped, as torch does
                model.readout.bias.grad = None
            opt.step()
        for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
            assert torch.equal(a, b), (step, name)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.3, 0.99), (0.0, 0.5)])
def test_any_size_and_betas_match_torch_adam(betas, threads, adam_path):
    """Sizes around the vector width and above torch's parallel grain (where two threads split a
    tensor), gradients over ten orders of magnitude, and beta1 on both sides of torch's lerp
    switch at weight 0.5."""
    sizes = [1, 7, 16, 17, 33, 1000, 40_000, 70_001]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(3)
        ours = [torch.randn(n, generator=gen) for n in sizes]
        theirs = [p.clone() for p in ours]
        opt_ours = Adam(ours, lr=2e-3, betas=betas)
        opt_theirs = torch.optim.Adam(theirs, lr=2e-3, betas=betas, foreach=True)
        for step in range(20):
            for a, b in zip(ours, theirs, strict=True):
                a.grad = torch.randn(a.shape, generator=gen) * 10.0 ** (step % 10 - 5)
                b.grad = a.grad.clone()
            opt_ours.step()
            opt_theirs.step()
            for a, b in zip(ours, theirs, strict=True):
                assert torch.equal(a, b), (step, a.numel())
            assert opt_ours.weights_finite()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_finite_reports_a_non_finite_weight(bad, adam_path):
    params = [torch.zeros(5), torch.zeros(3, 4)]
    opt = Adam(params, lr=1e-3)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert opt.weights_finite()
    params[1].grad[2, 1] = bad  # a NaN or inf gradient makes that weight NaN
    opt.step()
    assert not opt.weights_finite()
    assert opt._finite is (False if adam_path == "compiled" else None)  # the flag, or the check


def test_cpu_without_fused_multiply_add_runs_the_foreach_ops(monkeypatch):
    monkeypatch.setattr(optim, "_cpu_capability", lambda: "DEFAULT")
    assert optim._compiled_step() is None


def test_weights_finite_checks_a_parameter_the_step_skipped():
    params = [torch.zeros(2), torch.zeros(2)]
    opt = Adam(params, lr=1e-3)
    params[0].grad = torch.ones(2)
    params[1].data[0] = float("nan")  # no gradient: not updated, still checked
    opt.step()
    assert not opt.weights_finite()


@pytest.mark.parametrize("kind", ["feedforward", "recurrent", "ann"])
def test_single_tensor_path_matches_torch_adam_without_foreach(kind):
    """``foreach=False`` is torch's CPU default (the single-tensor loop), which E4's ReLU net was
    trained with; its per-tensor ops round differently from the foreach ones, so it is its own
    path and must match that one bit for bit."""
    from spikesparse.study.conversion_jobs import build_ann

    def make():
        if kind != "ann":
            return _model(kind)
        torch.manual_seed(5)
        return build_ann({"hidden": [24, 16]}, 12, 4)

    ours, theirs = make(), make()
    opt_ours = Adam(ours.parameters(), lr=1e-3, foreach=False)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-3, foreach=False)
    gen = torch.Generator().manual_seed(2)
    for step in range(12):
        x = (
            torch.rand(8, 12, generator=gen)
            if kind == "ann"
            else (torch.rand(10, 8, 12, generator=gen) < 0.4).float()
        )
        y = torch.randint(0, 4, (8,), generator=gen)
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            out = model(x)
            logits = out if kind == "ann" else out.logits
            loss = torch.nn.functional.cross_entropy(logits, y)
            opt.zero_grad() if opt is opt_ours else opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
            assert torch.equal(a, b), (step, name)


def test_bad_settings_are_named():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="lr"):
        Adam(p, lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(p, lr=1e-3, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="no parameters"):
        Adam([], lr=1e-3)


def test_a_training_run_does_not_import_torch_dynamo(quick_config, tmp_path):
    """The reason this optimizer exists: a CPU training job never pays the torch._dynamo import."""
    code = (
        "import copy, sys\n"
        "from spikesparse.study.config import validate_config\n"
        "from spikesparse.study.runs import RunKey, run_spec\n"
        "from spikesparse.study.data import generate\n"
        "from spikesparse.study.training import train_run\n"
        "import yaml\n"
        f"cfg = yaml.safe_load(open({str(tmp_path / 'c.yaml')!r}))\n"
        "cfg['experiments']['e1']['training']['epochs'] = 1\n"
        "cfg['experiments']['e1']['methods'] = {'baseline': {'regularizer': 'none'}}\n"
        "spec = run_spec(validate_config(cfg), RunKey('e1', 'baseline', '0.0', 0))\n"
        "data, _ = generate('anomaly', {k: v for k, v in spec['dataset'].items() if k != 'name'})\n"
        "train_run(spec, data, log=lambda _: None)\n"
        "import torch\n"
        "print('torch._dynamo' in sys.modules, torch.cuda.is_available())\n"
    )
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(quick_config))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, cuda = out.stdout.strip().splitlines()[-1].split()
    # Where CUDA is present, deterministic algorithms are switched on, and that imports it.
    assert imported == cuda, out.stdout
