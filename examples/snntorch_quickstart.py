import snntorch as snn
import torch
from snntorch import utils
from torch import nn

from spikesparse.api import spike_count_loss
from spikesparse.interop.recorders import SpikeRecorder

torch.manual_seed(0)
x = torch.rand(25, 64, 20)  # [T, B, features]: rates of 20 inputs over 25 steps
y = (x[:, :, :10].mean((0, 2)) > x[:, :, 10:].mean((0, 2))).long()  # which half is louder
net = nn.Sequential(nn.Linear(20, 64), snn.Leaky(beta=0.9, init_hidden=True),
                    nn.Linear(64, 2), snn.Leaky(beta=0.9, init_hidden=True, output=True))
opt = torch.optim.Adam(net.parameters(), lr=5e-3)
with SpikeRecorder(net) as rec:  # forward hooks collect every layer's spikes
    for _ in range(40):
        rec.clear(), utils.reset(net)
        mem = torch.stack([net(x[t])[1] for t in range(len(x))])  # output membrane [T, B, 2]
        hidden = rec.spikes()["1"]  # the hidden Leaky's spikes [T, B, 64]
        loss = nn.functional.cross_entropy(mem.mean(0), y) + spike_count_loss(hidden, lam=2.0)
        opt.zero_grad(), loss.backward(), opt.step()
    acc = float((mem.mean(0).argmax(1) == y).float().mean())
    print({"accuracy": round(acc, 3), **{k: round(v, 4) for k, v in rec.metrics().items()}})
