// One step of the conversion's integrate-and-fire neuron (neurons.steps.if_step is the
// definition and the fallback): v' = v + I; s = 1[v' >= threshold]; v'' = v' - s * threshold.
//
// Why: the converted net is simulated one step at a time for up to 256 steps, and in PyTorch the
// step is five dispatched operations (add, compare, convert, multiply, subtract) over the batch,
// a third of an E4 conversion job. Here it is one pass. The same roundings: one addition, and
// the reset subtracts exactly 0 or the threshold (s * threshold is exact), as in PyTorch.
#include <torch/extension.h>

#include <vector>

namespace {

// The pass itself. no-trapping-math lets the compiler evaluate the spike's select for every lane
// at once (with the default it keeps the loop scalar, slower than PyTorch's five vectorized
// operations); it only concerns floating-point exception flags, which nothing here reads, so
// every result is the same.
__attribute__((optimize("no-trapping-math"))) void if_pass(
    const float* __restrict__ in, const float* __restrict__ mem, float* __restrict__ s,
    float* __restrict__ out, int64_t n, const float th) {
  for (int64_t i = 0; i < n; ++i) {
    const float vi = mem[i] + in[i];
    const float si = vi >= th ? 1.0f : 0.0f;
    s[i] = si;
    out[i] = vi - si * th;
  }
}

std::vector<at::Tensor> if_step(const at::Tensor& current, const at::Tensor& v, double threshold) {
  for (const at::Tensor* t : {&current, &v}) {
    TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == at::kFloat && t->is_contiguous(),
                "if_step takes contiguous float32 CPU tensors");
  }
  TORCH_CHECK(current.sizes() == v.sizes(), "if_step: current and membrane differ in shape");
  auto spikes = at::empty_like(v);
  auto v_next = at::empty_like(v);
  const float th = static_cast<float>(threshold);  // PyTorch compares float32 with it as float32
  if_pass(current.data_ptr<float>(), v.data_ptr<float>(), spikes.data_ptr<float>(),
          v_next.data_ptr<float>(), v.numel(), th);
  return {spikes, v_next};
}

}  // namespace

namespace spikesparse {

void bind_if_step(pybind11::module& m) {
  m.def("if_step", &if_step, "integrate-and-fire step: (spikes, membrane) from (current, membrane)",
        pybind11::arg("current"), pybind11::arg("v"), pybind11::arg("threshold"));
}

}  // namespace spikesparse
