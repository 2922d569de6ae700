"""spikesparse.optim.Adam against torch.optim.Adam (foreach=True, and foreach=False for the
single-tensor path the conversion ANN uses): the same bits, step for step."""

import subprocess
import sys

import pytest
import torch

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


@pytest.mark.parametrize("kind", ["feedforward", "recurrent"])
@pytest.mark.parametrize("lr", [1e-3, 3e-3])
def test_same_parameters_as_torch_adam_after_every_step(kind, lr):
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


@pytest.mark.parametrize("kind", ["feedforward", "recurrent", "ann"])
def test_single_tensor_path_matches_torch_adam_without_foreach(kind):
    """``foreach=False`` is torch's CPU default (the single-tensor loop), which E4's ReLU net was
    trained with; its per-tensor ops round differently from the foreach ones, so it is its own
    path and must match that one bit for bit."""
    from spikesparse.conversion import ReLUNet

    def make():
        if kind != "ann":
            return _model(kind)
        torch.manual_seed(5)
        return ReLUNet(12, [24, 16], 4)

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
        "from spikesparse.config import RunKey, run_spec, validate_config\n"
        "from spikesparse.data import generate\n"
        "from spikesparse.training import train_run\n"
        "import yaml\n"
        f"cfg = yaml.safe_load(open({str(tmp_path / 'c.yaml')!r}))\n"
        "cfg['experiments']['e1']['training']['epochs'] = 1\n"
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
