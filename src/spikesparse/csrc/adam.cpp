// Adam's update for a list of float32 CPU parameters in two fused passes per parameter, with the
// arithmetic of torch's multi-tensor Adam (spikesparse.optim.Adam, foreach path) bit for bit.
//
// Why: the foreach path dispatches eight operations per parameter tensor and walks every tensor
// eight times; for the study's small nets that dispatch is most of the optimizer's time (about a
// twentieth of a training step), and the finiteness check of the weights after the step was
// another pass and a concatenation. Here each tensor is walked twice and the check is a flag
// kept while the weights are written.
//
// The same roundings as torch's CPU kernels on this build (tests/test_optim.py compares them
// step by step): lerp with weight w < 0.5 is fma(w, g - m, m) (its vectorized form), addcmul is
// fma(c * g, g, v), addcdiv is p + (s * m) / d, division and addition by a scalar round once.
// The square root is torch's own (at::sqrt: MKL's vector sqrt on MKL builds, which is not
// the correctly rounded std::sqrt). -ffp-contract=off keeps every other operation unfused.
#include <torch/extension.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// m <- lerp(m, g, w1); v <- v * b2 + (c2 * g) * g, with torch's roundings.
void moments(const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
             int64_t n, const float w1, const bool small, const float b2, const float c2) {
  const float coeff = small ? w1 : w1 - 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i], mi = m[i];
    m[i] = std::fma(coeff, gi - mi, small ? mi : gi);
    v[i] = std::fma(c2 * gi, gi, v[i] * b2);
  }
}

// p <- p + (ss * m) / (sqrt_v / bc2 + eps); returns whether every new p is finite.
bool update(float* __restrict__ p, const float* __restrict__ m, const float* __restrict__ sqrt_v,
            int64_t n, const float bc2, const float eps, const float ss) {
  // NaN and inf are the floats whose exponent bits are all ones. Tested on the bits, an integer
  // OR the compiler vectorizes; std::isfinite in the loop kept it scalar (3x slower).
  uint32_t non_finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = sqrt_v[i] / bc2 + eps;
    const float pn = p[i] + ss * m[i] / d;
    p[i] = pn;
    uint32_t bits;
    std::memcpy(&bits, &pn, sizeof bits);
    non_finite |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return non_finite == 0;
}

// One Adam step over parameters whose step counts are `steps` (already incremented). Returns 1
// when every updated parameter is finite afterwards, 0 when one is not, and -1, before touching
// anything, when the tensors are not all contiguous float32 CPU tensors of matching sizes (the
// caller then runs the foreach operations).
int adam_step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
              const std::vector<at::Tensor>& exp_avgs, const std::vector<at::Tensor>& exp_avg_sqs,
              const std::vector<double>& steps, double lr, double beta1, double beta2, double eps) {
  const size_t n = params.size();
  TORCH_CHECK(grads.size() == n && exp_avgs.size() == n && exp_avg_sqs.size() == n &&
                  steps.size() == n,
              "adam_step: one gradient, moment pair and step count per parameter");
  for (size_t k = 0; k < n; ++k) {
    for (const at::Tensor* t : {&params[k], &grads[k], &exp_avgs[k], &exp_avg_sqs[k]}) {
      if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || !t->is_contiguous() ||
          t->numel() != params[k].numel()) {
        return -1;
      }
    }
  }
  // The scalars as torch's foreach Adam forms them: in double, then cast to float by the kernel.
  const float w1 = static_cast<float>(1 - beta1);
  const bool small = std::abs(w1) < 0.5f;  // torch's lerp switches formula at weight 0.5
  const float b2 = static_cast<float>(beta2), c2 = static_cast<float>(1 - beta2);
  const float e = static_cast<float>(eps);
  bool finite = true;
  at::Tensor sqrt_v;
  for (size_t k = 0; k < n; ++k) {
    const int64_t numel = params[k].numel();
    if (numel == 0) continue;
    const double s = steps[k];
    const float ss = static_cast<float>((lr / (1 - std::pow(beta1, s))) * -1);
    const float bc2 = static_cast<float>(std::pow(1 - std::pow(beta2, s), 0.5));
    moments(grads[k].data_ptr<float>(), exp_avgs[k].data_ptr<float>(),
            exp_avg_sqs[k].data_ptr<float>(), numel, w1, small, b2, c2);
    sqrt_v = at::sqrt(exp_avg_sqs[k]);
    finite &= update(params[k].data_ptr<float>(), exp_avgs[k].data_ptr<float>(),
                     sqrt_v.data_ptr<float>(), numel, bc2, e, ss);
  }
  return finite ? 1 : 0;
}

}  // namespace

namespace spikesparse {

void bind_adam(pybind11::module& m) {
  m.def("adam_step", &adam_step,
        "torch's foreach Adam step on float32 CPU tensors: 1 finite weights, 0 not, -1 not covered",
        pybind11::arg("params"), pybind11::arg("grads"), pybind11::arg("exp_avgs"),
        pybind11::arg("exp_avg_sqs"), pybind11::arg("steps"), pybind11::arg("lr"),
        pybind11::arg("beta1"), pybind11::arg("beta2"), pybind11::arg("eps"));
}

}  // namespace spikesparse
