// Fused LIF time loops for the common case: detached reset, no refractory period, no spike
// budget, no adaptive threshold. Feed-forward neurons are independent over time, so one pass
// over [T, M] computes membrane, spike and surrogate derivative together (M = batch x neurons);
// the recurrent layer keeps one addmm per step and fuses everything else around it.
// The pure-PyTorch kernel in neurons.py is the reference and the fallback.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <vector>

namespace {

constexpr int64_t kGrain = 1024;

template <typename scalar_t>
inline scalar_t surrogate(scalar_t mem, scalar_t theta, scalar_t slope) {
  scalar_t u = scalar_t(1) + slope * std::abs(mem - theta);
  return scalar_t(1) / (u * u);
}

template <typename scalar_t, bool kZero, bool kKeepMem>
void ff_forward_kernel(const scalar_t* in, scalar_t* sp, scalar_t* sg, scalar_t* mm, int64_t T,
                       int64_t M, scalar_t b, scalar_t th, scalar_t k) {
  at::parallel_for(0, M, kGrain, [&](int64_t lo, int64_t hi) {
    const int64_t n = hi - lo;
    std::vector<scalar_t> mem(n, scalar_t(0)), s(n, scalar_t(0));
    scalar_t* mp = mem.data();
    scalar_t* spp = s.data();
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* x = in + t * M + lo;
      scalar_t* so = sp + t * M + lo;
      scalar_t* go = sg + t * M + lo;
      scalar_t* mo = kKeepMem ? mm + t * M + lo : nullptr;
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t m = kZero ? b * (scalar_t(1) - spp[i]) * mp[i] + x[i]
                                 : b * mp[i] + x[i] - th * spp[i];
        const scalar_t fired = static_cast<scalar_t>(m > th);
        const scalar_t u = scalar_t(1) + k * std::fabs(m - th);
        mp[i] = m;
        spp[i] = fired;
        so[i] = fired;
        go[i] = scalar_t(1) / (u * u);
        if (kKeepMem) mo[i] = m;
      }
    }
  });
}

// Feed-forward forward: returns {spikes, surrogate, mems (empty unless keep_mem)}.
std::vector<at::Tensor> ff_forward(at::Tensor current, double beta, double theta, double slope,
                                   bool zero_reset, bool keep_mem) {
  current = current.contiguous();
  const int64_t T = current.size(0);
  const int64_t M = current.numel() / T;
  auto spikes = at::empty_like(current);
  auto surr = at::empty_like(current);
  auto mems = keep_mem ? at::empty_like(current) : at::empty({0}, current.options());
  AT_DISPATCH_FLOATING_TYPES(current.scalar_type(), "ff_forward", [&] {
    const scalar_t* in = current.data_ptr<scalar_t>();
    scalar_t* sp = spikes.data_ptr<scalar_t>();
    scalar_t* sg = surr.data_ptr<scalar_t>();
    scalar_t* mm = keep_mem ? mems.data_ptr<scalar_t>() : nullptr;
    const scalar_t b = beta, th = theta, k = slope;
    if (zero_reset) {
      if (keep_mem) ff_forward_kernel<scalar_t, true, true>(in, sp, sg, mm, T, M, b, th, k);
      else ff_forward_kernel<scalar_t, true, false>(in, sp, sg, mm, T, M, b, th, k);
    } else {
      if (keep_mem) ff_forward_kernel<scalar_t, false, true>(in, sp, sg, mm, T, M, b, th, k);
      else ff_forward_kernel<scalar_t, false, false>(in, sp, sg, mm, T, M, b, th, k);
    }
  });
  return {spikes, surr, mems};
}

// Feed-forward backward: d[t] = g_s[t] * surr[t] (+ g_m[t]) + c[t] * d[t+1],
// c = beta (subtract) or beta * (1 - s[t]) (zero reset).
at::Tensor ff_backward(at::Tensor grad_spikes, at::Tensor grad_mems, at::Tensor surr,
                       at::Tensor spikes, double beta, bool zero_reset) {
  grad_spikes = grad_spikes.contiguous();
  const bool has_gm = grad_mems.numel() > 0;
  if (has_gm) grad_mems = grad_mems.contiguous();
  const int64_t T = surr.size(0);
  const int64_t M = surr.numel() / T;
  auto grad = at::empty_like(surr);
  AT_DISPATCH_FLOATING_TYPES(surr.scalar_type(), "ff_backward", [&] {
    const scalar_t* gs = grad_spikes.data_ptr<scalar_t>();
    const scalar_t* gm = has_gm ? grad_mems.data_ptr<scalar_t>() : nullptr;
    const scalar_t* sg = surr.data_ptr<scalar_t>();
    const scalar_t* sp = spikes.data_ptr<scalar_t>();
    scalar_t* out = grad.data_ptr<scalar_t>();
    const scalar_t b = beta;
    at::parallel_for(0, M, kGrain, [&](int64_t lo, int64_t hi) {
      std::vector<scalar_t> next(hi - lo, scalar_t(0));
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t off = t * M;
        for (int64_t j = lo; j < hi; ++j) {
          const int64_t i = j - lo;
          const scalar_t carry = zero_reset ? b * (scalar_t(1) - sp[off + j]) : b;
          scalar_t d = gs[off + j] * sg[off + j] + carry * next[i];
          if (gm) d += gm[off + j];
          out[off + j] = d;
          next[i] = d;
        }
      }
    });
  });
  return grad;
}

// Recurrent forward, subtractive reset folded into w_eff_t = (W_rec - theta I)^T.
std::vector<at::Tensor> rec_forward(at::Tensor current, at::Tensor w_eff_t, double beta,
                                    double theta, double slope, bool keep_mem) {
  current = current.contiguous();
  const int64_t T = current.size(0);
  auto spikes = at::empty_like(current);
  auto surr = at::empty_like(current);
  auto mems = keep_mem ? at::empty_like(current) : at::empty({0}, current.options());
  auto mem = at::zeros_like(current[0]);
  const int64_t M = mem.numel();
  AT_DISPATCH_FLOATING_TYPES(current.scalar_type(), "rec_forward", [&] {
    const scalar_t b = beta, th = theta, k = slope;
    for (int64_t t = 0; t < T; ++t) {
      // mem = beta * mem + I[t] (+ s[t-1] @ w_eff_t)
      at::Tensor drive = current[t];
      scalar_t* m = mem.data_ptr<scalar_t>();
      const scalar_t* in = drive.data_ptr<scalar_t>();
      for (int64_t j = 0; j < M; ++j) m[j] = b * m[j] + in[j];
      if (t > 0) mem.addmm_(spikes[t - 1], w_eff_t);
      scalar_t* sp = spikes[t].data_ptr<scalar_t>();
      scalar_t* sg = surr[t].data_ptr<scalar_t>();
      scalar_t* mm = keep_mem ? mems[t].data_ptr<scalar_t>() : nullptr;
      for (int64_t j = 0; j < M; ++j) {
        sp[j] = m[j] > th ? scalar_t(1) : scalar_t(0);
        sg[j] = surrogate(m[j], th, k);
        if (mm) mm[j] = m[j];
      }
    }
  });
  return {spikes, surr, mems};
}

// Recurrent backward (subtractive, detached reset): returns {grad_current, grad_w_rec}.
std::vector<at::Tensor> rec_backward(at::Tensor grad_spikes, at::Tensor grad_mems, at::Tensor surr,
                                     at::Tensor spikes, at::Tensor w_rec, double beta) {
  grad_spikes = grad_spikes.contiguous();
  const bool has_gm = grad_mems.numel() > 0;
  if (has_gm) grad_mems = grad_mems.contiguous();
  const int64_t T = surr.size(0);
  const int64_t N = surr.size(2);
  auto grad = at::empty_like(surr);
  auto scratch = at::empty_like(surr[0]);
  const int64_t M = scratch.numel();
  AT_DISPATCH_FLOATING_TYPES(surr.scalar_type(), "rec_backward", [&] {
    const scalar_t b = beta;
    for (int64_t t = T - 1; t >= 0; --t) {
      const bool last = t == T - 1;
      if (last) {
        scratch.copy_(grad_spikes[t]);
      } else {
        at::addmm_out(scratch, grad_spikes[t], grad[t + 1], w_rec);
      }
      const scalar_t* gs = scratch.data_ptr<scalar_t>();
      const scalar_t* sg = surr[t].data_ptr<scalar_t>();
      const scalar_t* gm = has_gm ? grad_mems[t].data_ptr<scalar_t>() : nullptr;
      const scalar_t* nx = last ? nullptr : grad[t + 1].data_ptr<scalar_t>();
      scalar_t* out = grad[t].data_ptr<scalar_t>();
      for (int64_t j = 0; j < M; ++j) {
        scalar_t d = gs[j] * sg[j];
        if (nx) d += b * nx[j];
        if (gm) d += gm[j];
        out[j] = d;
      }
    }
  });
  auto grad_w = grad.narrow(0, 1, T - 1).reshape({-1, N}).t().mm(
      spikes.narrow(0, 0, T - 1).reshape({-1, N}));
  return {grad, grad_w};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("ff_forward", &ff_forward);
  m.def("ff_backward", &ff_backward);
  m.def("rec_forward", &rec_forward);
  m.def("rec_backward", &rec_backward);
}
