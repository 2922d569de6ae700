// The first-spike penalty's stop-gradient mask in one pass: mask[t] = 1[sum_{tau<t} s[tau] >= 1]
// for spikes [T, ...] (regularizers._after_first_mask is the definition and the fallback).
//
// Why: in PyTorch the running sum costs two dispatched ops per step and layer (200 per recurrent
// E1 layer and batch), about a tenth of a first-spike training step. Here each neuron keeps its
// running sum in a register: the same float additions in the same order (no FMA: -ffp-contract
// is off in both builds), so the mask is identical for binary and graded values alike.
#include <torch/extension.h>

#include <algorithm>
#include <vector>

namespace {

torch::Tensor after_first_mask(const torch::Tensor& spikes) {
  TORCH_CHECK(spikes.device().is_cpu(), "after_first_mask runs on the CPU");
  TORCH_CHECK(spikes.scalar_type() == torch::kFloat32, "after_first_mask takes float32 spikes");
  TORCH_CHECK(spikes.dim() >= 1, "spikes need a leading time dimension");
  auto s = spikes.contiguous();
  auto mask = torch::empty_like(s);
  const int64_t steps = s.size(0);
  if (steps == 0 || s.numel() == 0) return mask;
  const int64_t m = s.numel() / steps;
  const float* __restrict__ in = s.data_ptr<float>();
  float* __restrict__ out = mask.data_ptr<float>();
  std::vector<float> seen(in, in + m);  // spikes strictly before step t, for t = 1
  std::fill(out, out + m, 0.0f);        // nothing comes before the first step
  for (int64_t t = 1; t < steps; ++t) {
    const float* __restrict__ st = in + t * m;
    float* __restrict__ mt = out + t * m;
    float* __restrict__ acc = seen.data();
    for (int64_t i = 0; i < m; ++i) {
      mt[i] = acc[i] >= 1.0f ? 1.0f : 0.0f;
      acc[i] += st[i];
    }
  }
  return mask;
}

}  // namespace

namespace spikesparse {

void bind_first_spike(pybind11::module& m) {
  m.def("after_first_mask", &after_first_mask, "1[sum_{tau<t} s[tau] >= 1] for spikes [T, ...]",
        pybind11::arg("spikes"));
}

}  // namespace spikesparse
