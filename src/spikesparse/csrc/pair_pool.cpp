// The size-2, stride-2 average pool over the last dimension (pooling.avg_pool_pairs is the
// definition and the fallback): forward out[i] = (v[2i] + v[2i+1]) / 2, backward g[i] / 2 to
// both members of pair i (and 0 to an odd length's last position, which the pool drops).
//
// Why: in PyTorch the forward is an addition over two stride-2 views and a division, and the
// backward a division written through a broadcast view with a trailing dimension of 2; both run
// at about 1.6 ns an element on the study's shapes, several times a plain pass, and a conv SNN
// pools every layer at every step (training) or every simulated step (conversion). Here each is
// one pass. The same roundings: one addition, then a division by 2 (exact, as in PyTorch).
#include <torch/extension.h>

#include <ATen/Parallel.h>

namespace {

constexpr int64_t kRowsGrain = 256;

// row(r) for every row, the rows shared out between threads.
template <typename Row>
void for_rows(int64_t rows, const Row& row) {
  at::parallel_for(0, rows, kRowsGrain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) row(r);
  });
}

template <typename scalar_t>
void mean_row(const scalar_t* __restrict__ x, scalar_t* __restrict__ o, int64_t length) {
  for (int64_t i = 0; i < length / 2; ++i) o[i] = (x[2 * i] + x[2 * i + 1]) / scalar_t(2);
}

template <typename scalar_t>
void spread_row(const scalar_t* __restrict__ g, scalar_t* __restrict__ o, int64_t length) {
  for (int64_t i = 0; i < length / 2; ++i) {
    const scalar_t half = g[i] / scalar_t(2);
    o[2 * i] = half;
    o[2 * i + 1] = half;
  }
  if (length % 2) o[length - 1] = scalar_t(0);
}

void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.dim() >= 1, name, ": a CPU tensor of at least 1 dimension");
}

// [..., L] -> [..., L / 2] (floor).
at::Tensor pair_mean(const at::Tensor& v_in) {
  check(v_in, "pair_mean");
  const at::Tensor v = v_in.contiguous();
  const int64_t length = v.size(-1);
  auto sizes = v.sizes().vec();
  sizes.back() = length / 2;
  auto out = at::empty(sizes, v.options());
  const int64_t rows = length > 0 ? v.numel() / length : 0;
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "pair_mean", [&] {
    const scalar_t* in = v.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    for_rows(rows, [=](int64_t r) { mean_row(in + r * length, o + r * (length / 2), length); });
  });
  return out;
}

// grad [..., L / 2] -> the input's gradient [..., L].
at::Tensor pair_spread(const at::Tensor& grad_in, int64_t length) {
  check(grad_in, "pair_spread");
  const at::Tensor grad = grad_in.contiguous();
  TORCH_CHECK(grad.size(-1) == length / 2, "pair_spread: the gradient's last dimension must be ",
              length / 2, ", got ", grad.size(-1));
  auto sizes = grad.sizes().vec();
  sizes.back() = length;
  auto out = at::empty(sizes, grad.options());
  const int64_t rows = length > 0 ? out.numel() / length : 0;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "pair_spread", [&] {
    const scalar_t* g = grad.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    for_rows(rows, [=](int64_t r) { spread_row(g + r * (length / 2), o + r * length, length); });
  });
  return out;
}

}  // namespace

namespace spikesparse {

void bind_pair_pool(pybind11::module& m) {
  m.def("pair_mean", &pair_mean, "the size-2, stride-2 mean over the last dimension");
  m.def("pair_spread", &pair_spread, "its backward: half the gradient to both members of a pair",
        pybind11::arg("grad"), pybind11::arg("length"));
}

}  // namespace spikesparse
