// Fused LIF time loops for the common case: detached reset, no refractory period, no spike
// budget, no adaptive threshold. Feed-forward neurons are independent over time, so one pass
// over [T, M] computes membrane, spike and surrogate derivative together (M = batch x neurons);
// the recurrent layer keeps one addmm per step and fuses everything else around it.
// The pure-PyTorch kernel in neurons.py is the reference and the fallback.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

constexpr int64_t kGrain = 1024;
// Neurons per tile of the feed-forward loops: each tile runs its whole time loop before the next,
// so its state (membrane, last spike, count: 3 x 2,048 floats, 24 KB) stays in L1 over the T steps
// instead of streaming from memory every step. Neurons are independent in time, so every number
// is what one pass over all of them gives.
constexpr int64_t kTile = 2048;

template <typename scalar_t>
inline scalar_t surrogate(scalar_t mem, scalar_t theta, scalar_t slope) {
  scalar_t u = scalar_t(1) + slope * std::abs(mem - theta);
  return scalar_t(1) / (u * u);
}

// One step of the feed-forward loop on n neurons. Separate function with restrict pointers and
// by-value scalars: inside a lambda that captures the scalars by reference the compiler must
// assume every store may change them, and does not vectorize the loop.
template <typename scalar_t, bool kZero, bool kKeepMem, bool kSurr>
inline void ff_step(const scalar_t* __restrict__ x, scalar_t* __restrict__ mp,
                    scalar_t* __restrict__ spp, scalar_t* __restrict__ so,
                    scalar_t* __restrict__ go, scalar_t* __restrict__ mo,
                    scalar_t* __restrict__ cnt, int64_t n, const scalar_t b, const scalar_t th,
                    const scalar_t k) {
  for (int64_t i = 0; i < n; ++i) {
    const scalar_t m = kZero ? b * (scalar_t(1) - spp[i]) * mp[i] + x[i]
                             : b * mp[i] + x[i] - th * spp[i];
    const scalar_t fired = m > th ? scalar_t(1) : scalar_t(0);
    mp[i] = m;
    spp[i] = fired;
    so[i] = fired;
    cnt[i] += fired;
    if (kSurr) {
      const scalar_t u = scalar_t(1) + k * std::fabs(m - th);
      go[i] = scalar_t(1) / (u * u);
    }
    if (kKeepMem) mo[i] = m;
  }
}

template <typename scalar_t, bool kZero, bool kKeepMem, bool kSurr>
void ff_forward_kernel(const scalar_t* in, scalar_t* sp, scalar_t* sg, scalar_t* mm,
                       scalar_t* counts, int64_t T, int64_t M, scalar_t b, scalar_t th,
                       scalar_t k) {
  at::parallel_for(0, M, kGrain, [=](int64_t lo, int64_t hi) {
    std::vector<scalar_t> mem(kTile), s(kTile), cnt(kTile);
    for (int64_t t0 = lo; t0 < hi; t0 += kTile) {  // one tile's whole time loop, then the next
      const int64_t n = std::min(kTile, hi - t0);
      std::fill_n(mem.data(), n, scalar_t(0));
      std::fill_n(s.data(), n, scalar_t(0));
      std::fill_n(cnt.data(), n, scalar_t(0));
      for (int64_t t = 0; t < T; ++t) {
        const int64_t off = t * M + t0;
        ff_step<scalar_t, kZero, kKeepMem, kSurr>(in + off, mem.data(), s.data(), sp + off,
                                                  kSurr ? sg + off : nullptr,
                                                  kKeepMem ? mm + off : nullptr, cnt.data(), n, b,
                                                  th, k);
      }
      std::copy_n(cnt.data(), n, counts + t0);
    }
  });
}

// The forward loops' outputs: spikes, the surrogate and membranes when asked for (else empty),
// and each sample's spike count per neuron (sum over time, [B, N]; exact, the spikes being 0 or
// 1), which costs one add per step in the loop and saves a pass over the spikes where a rate
// penalty or a statistic needs them (neurons.kernel, counts=True).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> forward_outputs(
    const at::Tensor& current, bool keep_mem, bool with_surr) {
  const auto none = at::empty({0}, current.options());
  return {at::empty_like(current), with_surr ? at::empty_like(current) : none,
          keep_mem ? at::empty_like(current) : none,
          at::empty(current.sizes().slice(1), current.options())};
}

// Run-time flags -> the kernel compiled for them (no branch inside the loop).
template <typename scalar_t>
void ff_forward_dispatch(bool zero, bool keep_mem, bool with_surr, const scalar_t* in, scalar_t* sp,
                         scalar_t* sg, scalar_t* mm, scalar_t* cn, int64_t T, int64_t M, scalar_t b,
                         scalar_t th, scalar_t k) {
  const int flags = (zero ? 4 : 0) | (keep_mem ? 2 : 0) | (with_surr ? 1 : 0);
  switch (flags) {
    case 0: return ff_forward_kernel<scalar_t, false, false, false>(in, sp, sg, mm, cn, T, M, b, th, k);
    case 1: return ff_forward_kernel<scalar_t, false, false, true>(in, sp, sg, mm, cn, T, M, b, th, k);
    case 2: return ff_forward_kernel<scalar_t, false, true, false>(in, sp, sg, mm, cn, T, M, b, th, k);
    case 3: return ff_forward_kernel<scalar_t, false, true, true>(in, sp, sg, mm, cn, T, M, b, th, k);
    case 4: return ff_forward_kernel<scalar_t, true, false, false>(in, sp, sg, mm, cn, T, M, b, th, k);
    case 5: return ff_forward_kernel<scalar_t, true, false, true>(in, sp, sg, mm, cn, T, M, b, th, k);
    case 6: return ff_forward_kernel<scalar_t, true, true, false>(in, sp, sg, mm, cn, T, M, b, th, k);
    default: return ff_forward_kernel<scalar_t, true, true, true>(in, sp, sg, mm, cn, T, M, b, th, k);
  }
}

// Feed-forward forward: returns {spikes, surrogate (empty unless with_surr), mems (empty unless
// keep_mem), counts}. Inference passes with_surr = false: nothing is computed for a backward pass.
std::vector<at::Tensor> ff_forward(at::Tensor current, double beta, double theta, double slope,
                                   bool zero_reset, bool keep_mem, bool with_surr) {
  current = current.contiguous();
  const int64_t T = current.size(0);
  const int64_t M = current.numel() / T;
  auto [spikes, surr, mems, counts] = forward_outputs(current, keep_mem, with_surr);
  AT_DISPATCH_FLOATING_TYPES(current.scalar_type(), "ff_forward", [&] {
    const scalar_t* in = current.data_ptr<scalar_t>();
    scalar_t* sp = spikes.data_ptr<scalar_t>();
    scalar_t* sg = with_surr ? surr.data_ptr<scalar_t>() : nullptr;
    scalar_t* mm = keep_mem ? mems.data_ptr<scalar_t>() : nullptr;
    scalar_t* cn = counts.data_ptr<scalar_t>();
    const scalar_t b = beta, th = theta, k = slope;
    ff_forward_dispatch<scalar_t>(zero_reset, keep_mem, with_surr, in, sp, sg, mm, cn, T, M, b, th,
                                  k);
  });
  return {spikes, surr, mems, counts};
}

// The gradient reaching the spikes of one step, from up to three sources (see SpikeGrads): g_s[t]
// from the layers above (and penalties on the spikes themselves), g_c from the layer's per-sample
// spike counts sum_t s[t] (rate penalties), the same for every step, and, for the last hidden
// layer, the time-pooled readout's share c[t] * g_pooled. Summed as (g_s + g_c) + c[t] * g_pooled:
// autograd gives the same bits for two gradients in either order, and before the counts and the
// pooling came out of this layer, autograd summed g_s and g_c and the pooling came last.
template <typename scalar_t, bool kGs, bool kGc, bool kPool>
inline scalar_t spike_grad(const scalar_t* __restrict__ gs, const scalar_t* __restrict__ gc,
                           const scalar_t* __restrict__ gp, scalar_t ct, int64_t i) {
  scalar_t g = scalar_t(0);
  if constexpr (kGs && kGc) g = gs[i] + gc[i];
  else if constexpr (kGs) g = gs[i];
  else if constexpr (kGc) g = gc[i];
  if constexpr (kPool) return (kGs || kGc) ? g + ct * gp[i] : ct * gp[i];
  return g;
}

template <typename scalar_t, bool kGs, bool kGc, bool kPool>
inline void ff_back_step(const scalar_t* __restrict__ gs, const scalar_t* __restrict__ gc,
                         const scalar_t* __restrict__ gp, const scalar_t ct,
                         const scalar_t* __restrict__ gm, const scalar_t* __restrict__ sg,
                         const scalar_t* __restrict__ sp, scalar_t* __restrict__ out,
                         scalar_t* __restrict__ next, int64_t n, const scalar_t b,
                         const bool zero_reset) {
  for (int64_t i = 0; i < n; ++i) {
    const scalar_t carry = zero_reset ? b * (scalar_t(1) - sp[i]) : b;
    scalar_t d =
        spike_grad<scalar_t, kGs, kGc, kPool>(gs, gc, gp, ct, i) * sg[i] + carry * next[i];
    if (gm) d += gm[i];
    out[i] = d;
    next[i] = d;
  }
}

// The sources of the spikes' gradient. grad_spikes is empty when nothing but the readout and the
// counts use the spikes; grad_counts ([B, N]) is empty unless the layer also returned its
// per-sample spike counts (neurons.kernel, counts=True) and a loss used them: its gradient then
// enters here instead of as a [T, B, N] tensor that autograd adds to grad_spikes. pool_c ([T]) and
// grad_pooled ([B, N]) are empty unless the layer also returned the readout's time pooling
// sum_t c[t] s[t] (pool=...): its gradient c[t] * g_pooled is formed on the fly likewise.
struct SpikeGrads {
  at::Tensor gs, gc, c, gp;
  bool has_gs, has_gc, has_pool;
  SpikeGrads(at::Tensor grad_spikes, const c10::optional<at::Tensor>& grad_counts,
             const c10::optional<at::Tensor>& pool_c,
             const c10::optional<at::Tensor>& grad_pooled)
      : has_gs(grad_spikes.numel() > 0),
        has_gc(grad_counts.has_value() && grad_counts->numel() > 0),
        has_pool(pool_c.has_value() && grad_pooled.has_value() && grad_pooled->numel() > 0) {
    if (has_gs) gs = grad_spikes.contiguous();
    if (has_gc) gc = grad_counts->contiguous();
    if (has_pool) {
      c = pool_c->contiguous();
      gp = grad_pooled->contiguous();
    }
    TORCH_CHECK(has_gs || has_gc || has_pool, "LIF backward: no gradient reaches the spikes");
  }

  // f.template operator()<kGs, kGc, kPool>() for the sources present (no branch in the loops).
  template <typename F>
  void dispatch(F&& f) const {
    switch ((has_gs ? 4 : 0) | (has_gc ? 2 : 0) | (has_pool ? 1 : 0)) {
      case 1: return f.template operator()<false, false, true>();
      case 2: return f.template operator()<false, true, false>();
      case 3: return f.template operator()<false, true, true>();
      case 4: return f.template operator()<true, false, false>();
      case 5: return f.template operator()<true, false, true>();
      case 6: return f.template operator()<true, true, false>();
      default: return f.template operator()<true, true, true>();
    }
  }

  template <typename scalar_t>
  const scalar_t* ptr(bool has, const at::Tensor& x) const {
    return has ? x.data_ptr<scalar_t>() : nullptr;
  }
};

// Feed-forward backward: d[t] = g_s[t] * surr[t] (+ g_m[t]) + c[t] * d[t+1],
// c = beta (subtract) or beta * (1 - s[t]) (zero reset).
at::Tensor ff_backward(at::Tensor grad_spikes, at::Tensor grad_mems, at::Tensor surr,
                       at::Tensor spikes, double beta, bool zero_reset,
                       c10::optional<at::Tensor> pool_c, c10::optional<at::Tensor> grad_pooled,
                       c10::optional<at::Tensor> grad_counts) {
  const SpikeGrads sgr(grad_spikes, grad_counts, pool_c, grad_pooled);
  const bool has_gm = grad_mems.numel() > 0;
  if (has_gm) grad_mems = grad_mems.contiguous();
  const int64_t T = surr.size(0);
  const int64_t M = surr.numel() / T;
  auto grad = at::empty_like(surr);
  AT_DISPATCH_FLOATING_TYPES(surr.scalar_type(), "ff_backward", [&] {
    const scalar_t* gs = sgr.ptr<scalar_t>(sgr.has_gs, sgr.gs);
    const scalar_t* gc = sgr.ptr<scalar_t>(sgr.has_gc, sgr.gc);
    const scalar_t* cp = sgr.ptr<scalar_t>(sgr.has_pool, sgr.c);
    const scalar_t* gp = sgr.ptr<scalar_t>(sgr.has_pool, sgr.gp);
    const scalar_t* gm = has_gm ? grad_mems.data_ptr<scalar_t>() : nullptr;
    const scalar_t* sg = surr.data_ptr<scalar_t>();
    const scalar_t* sp = spikes.data_ptr<scalar_t>();
    scalar_t* out = grad.data_ptr<scalar_t>();
    const scalar_t b = beta;
    sgr.dispatch([&]<bool kGs, bool kGc, bool kPool>() {
      at::parallel_for(0, M, kGrain, [=](int64_t lo, int64_t hi) {
        std::vector<scalar_t> next(kTile);
        for (int64_t t0 = lo; t0 < hi; t0 += kTile) {  // tiles as in the forward
          const int64_t n = std::min(kTile, hi - t0);
          std::fill_n(next.data(), n, scalar_t(0));
          for (int64_t t = T - 1; t >= 0; --t) {
            const int64_t off = t * M + t0;
            ff_back_step<scalar_t, kGs, kGc, kPool>(
                gs ? gs + off : nullptr, gc ? gc + t0 : nullptr, gp ? gp + t0 : nullptr,
                cp ? cp[t] : scalar_t(0), gm ? gm + off : nullptr, sg + off, sp + off, out + off,
                next.data(), n, b, zero_reset);
          }
        }
      });
    });
  });
  return grad;
}

// ---- Per-step GEMMs of the recurrent loops, straight to BLAS ------------------------------------
// A recurrent step multiplies a small [B, N] block by the same [N, N] matrix T times. Through
// at::addmm each call pays the dispatcher, shape checks and (in MKL) re-packing of the fixed
// matrix; here the matrix is packed once per sequence (MKL's packed GEMM) and every step is one
// BLAS call on raw pointers. The BLAS symbols are those libtorch exports when it is built with
// MKL; they are declared weak, so on a build without them the loops fall back to at::addmm_.

extern "C" {
__attribute__((weak)) void sgemm_(const char* ta, const char* tb, const int* m, const int* n,
                                  const int* k, const float* alpha, const float* a, const int* lda,
                                  const float* b, const int* ldb, const float* beta, float* c,
                                  const int* ldc);
__attribute__((weak)) size_t cblas_sgemm_pack_get_size(int identifier, int m, int n, int k);
__attribute__((weak)) void cblas_sgemm_pack(int layout, int identifier, int trans, int m, int n,
                                            int k, float alpha, const float* src, int ld,
                                            float* dest);
__attribute__((weak)) void cblas_sgemm_compute(int layout, int transa, int transb, int m, int n,
                                               int k, const float* a, int lda, const float* b,
                                               int ldb, float beta, float* c, int ldc);

// Inside a parallel region each thread runs its own rows' GEMMs; MKL must not start threads of its
// own there (measured: a 2-thread recurrent forward took as long as a 1-thread one until MKL was
// held to one thread per caller; 3.3 -> 1.9 ms for 100 x 64 x 128). Thread-local, restored on
// exit, so BLAS calls after the region (the weight gradient) use every thread again.
// The C entry point (the lower-case names are the Fortran ones and take int*).
__attribute__((weak)) int MKL_Set_Num_Threads_Local(int n);
}

class SequentialBlasHere {
 public:
  SequentialBlasHere() : active_(MKL_Set_Num_Threads_Local != nullptr) {
    if (active_) previous_ = MKL_Set_Num_Threads_Local(1);
  }
  ~SequentialBlasHere() {
    if (active_) MKL_Set_Num_Threads_Local(previous_);
  }
  SequentialBlasHere(const SequentialBlasHere&) = delete;
  SequentialBlasHere& operator=(const SequentialBlasHere&) = delete;

 private:
  bool active_;
  int previous_ = 0;
};

constexpr int kRowMajor = 101, kNoTrans = 111, kPacked = 151, kBMatrix = 162;
bool g_direct_blas = true;  // tests switch it off to compare with the at::addmm_ path

enum class GemmKind { kPacked, kPlain, kAten };

// C[m, n] += A[m, k] @ Bm[k, n] (row-major) for a fixed Bm and many A, C.
template <typename scalar_t>
class StepGemm {
 public:
  StepGemm(const at::Tensor& bm, int64_t m) : bm_(bm.contiguous()), m_(m), k_(bm.size(0)),
                                              n_(bm.size(1)) {
    kind_ = GemmKind::kAten;
    if (std::is_same<scalar_t, float>::value && g_direct_blas) {
      if (cblas_sgemm_pack_get_size && cblas_sgemm_pack && cblas_sgemm_compute) {
        kind_ = GemmKind::kPacked;
        const size_t bytes = cblas_sgemm_pack_get_size(kBMatrix, m_, n_, k_);
        packed_ = at::empty({static_cast<int64_t>(bytes / sizeof(float)) + 16},
                            bm_.options().dtype(at::kFloat));
        cblas_sgemm_pack(kRowMajor, kBMatrix, kNoTrans, m_, n_, k_, 1.0f,
                         reinterpret_cast<const float*>(bm_.data_ptr()), n_,
                         packed_.data_ptr<float>());
      } else if (sgemm_) {
        kind_ = GemmKind::kPlain;
      }
    }
  }

  void run(const scalar_t* a, scalar_t* c) const {
    if constexpr (std::is_same<scalar_t, float>::value) {
      if (kind_ == GemmKind::kPacked) {
        cblas_sgemm_compute(kRowMajor, kNoTrans, kPacked, m_, n_, k_, a, k_, packed_.data_ptr<float>(),
                            n_, 1.0f, c, n_);
        return;
      }
      if (kind_ == GemmKind::kPlain) {
        // Row-major C = A B is column-major C^T = B^T A^T.
        const int m = m_, n = n_, k = k_;
        const float one = 1.0f;
        sgemm_("N", "N", &n, &m, &k, &one, bm_.data_ptr<float>(), &n, a, &k, &one, c, &n);
        return;
      }
    }
    auto opts = bm_.options();
    at::Tensor ct = at::from_blob(c, {m_, n_}, opts);
    ct.addmm_(at::from_blob(const_cast<scalar_t*>(a), {m_, k_}, opts), bm_);
  }

 private:
  at::Tensor bm_, packed_;
  int m_, k_, n_;
  GemmKind kind_;
};

// Element-wise parts of the recurrent loops (restrict, by-value scalars: see ff_step).
template <typename scalar_t>
inline void rec_integrate(const scalar_t* __restrict__ x, scalar_t* __restrict__ m, int64_t n,
                          const scalar_t b) {
  for (int64_t j = 0; j < n; ++j) m[j] = b * m[j] + x[j];
}

template <typename scalar_t, bool kSurr>
inline void rec_fire(const scalar_t* __restrict__ m, scalar_t* __restrict__ so,
                     scalar_t* __restrict__ go, scalar_t* __restrict__ cnt, int64_t n,
                     const scalar_t th, const scalar_t k) {
  for (int64_t j = 0; j < n; ++j) {
    so[j] = m[j] > th ? scalar_t(1) : scalar_t(0);
    cnt[j] += so[j];
    if (kSurr) go[j] = surrogate(m[j], th, k);
  }
}

// kFma: d = fma(beta, d[t+1], g * surr), as the PyTorch loop's d.add_(d_next, alpha=beta) rounds
// (ATen's add with alpha is a fused multiply-add); else the product is rounded first.
template <typename scalar_t, bool kFma>
inline void rec_back_step(const scalar_t* __restrict__ scratch, const scalar_t* __restrict__ sg,
                          const scalar_t* __restrict__ nx, const scalar_t* __restrict__ gm,
                          scalar_t* __restrict__ out, int64_t n, const scalar_t b) {
  for (int64_t j = 0; j < n; ++j) {
    scalar_t d = scratch[j] * sg[j];
    if (nx) d = kFma ? std::fma(b, nx[j], d) : d + b * nx[j];
    if (gm) d += gm[j];
    out[j] = d;
  }
}

// scratch = the gradient reaching the spikes of step t (spike_grad) over a row block.
template <typename scalar_t, bool kGs, bool kGc, bool kPool>
inline void spike_grad_rows(const scalar_t* __restrict__ gs, const scalar_t* __restrict__ gc,
                            const scalar_t* __restrict__ gp, const scalar_t ct,
                            scalar_t* __restrict__ out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = spike_grad<scalar_t, kGs, kGc, kPool>(gs, gc, gp, ct, j);
}

// Rows of the batch per thread: samples are independent in the recurrence, so each thread runs
// the whole time loop on its own rows (its own per-step GEMMs) with no barrier between steps.
inline int64_t rows_per_thread(int64_t B) {
  const int64_t n = std::max<int64_t>(1, at::get_num_threads());
  return std::max<int64_t>(1, (B + n - 1) / n);
}

// The recurrent loops' parallel frame: one block of batch rows per thread, BLAS held to one
// thread inside it (SequentialBlasHere) and the fixed [N, N] matrix `bm` packed once per block
// (StepGemm). body(Mc, off0, gemm): the block is Mc = rows x N elements from off0 in every step.
template <typename scalar_t, typename Body>
void for_row_blocks(int64_t B, int64_t N, const at::Tensor& bm, const Body& body) {
  at::parallel_for(0, B, rows_per_thread(B), [&](int64_t r0, int64_t r1) {
    const SequentialBlasHere sequential_blas;
    const StepGemm<scalar_t> gemm(bm, r1 - r0);
    body((r1 - r0) * N, r0 * N, gemm);
  });
}

// One thread's share of a recurrent forward: its rows of every step's input, spikes, surrogate
// (null unless with_surr) and membranes (null unless keep_mem) at off(t) = t * M + off0, and its
// spike counts cnt (zeroed), Mc elements each.
template <typename scalar_t>
struct RecRows {
  const scalar_t* in;
  scalar_t* sp;
  scalar_t* sg;
  scalar_t* mm;
  scalar_t* cnt;
  int64_t T, M, Mc, off0;
  int64_t off(int64_t t) const { return t * M + off0; }
};

// The frame both recurrent forwards share: contiguous input, the outputs (forward_outputs), the
// row blocks (for_row_blocks); body(rows, gemm) runs the time loop of one block. Returns {spikes,
// surrogate (empty unless with_surr), mems (empty unless keep_mem), counts}.
template <typename Body>
std::vector<at::Tensor> rec_forward_frame(at::Tensor current, const at::Tensor& w_t, bool keep_mem,
                                          bool with_surr, const Body& body) {
  current = current.contiguous();
  const at::Tensor bm = w_t.contiguous();
  const int64_t T = current.size(0);
  const int64_t B = current.size(1);
  const int64_t N = current.size(2);
  auto [spikes, surr, mems, counts] = forward_outputs(current, keep_mem, with_surr);
  AT_DISPATCH_FLOATING_TYPES(current.scalar_type(), "rec_forward", [&] {
    const RecRows<scalar_t> all{current.data_ptr<scalar_t>(),
                                spikes.data_ptr<scalar_t>(),
                                with_surr ? surr.data_ptr<scalar_t>() : nullptr,
                                keep_mem ? mems.data_ptr<scalar_t>() : nullptr,
                                counts.data_ptr<scalar_t>(),
                                T,
                                B * N,
                                0,
                                0};
    for_row_blocks<scalar_t>(B, N, bm, [&](int64_t Mc, int64_t off0, const StepGemm<scalar_t>& gemm) {
      RecRows<scalar_t> rows = all;
      rows.Mc = Mc;
      rows.off0 = off0;
      rows.cnt = all.cnt + off0;
      std::fill(rows.cnt, rows.cnt + Mc, scalar_t(0));
      body(rows, gemm);
    });
  });
  return {spikes, surr, mems, counts};
}

template <typename Rows>
using RowScalar = std::remove_const_t<std::remove_pointer_t<decltype(Rows::in)>>;

// Recurrent forward, subtractive reset folded into w_eff_t = (W_rec - theta I)^T.
// with_surr = false (inference): the surrogate is neither computed nor returned. Outputs as ff_forward.
std::vector<at::Tensor> rec_forward(at::Tensor current, at::Tensor w_eff_t, double beta,
                                    double theta, double slope, bool keep_mem, bool with_surr) {
  return rec_forward_frame(current, w_eff_t, keep_mem, with_surr, [=](const auto& r, const auto& gemm) {
    using scalar_t = RowScalar<std::decay_t<decltype(r)>>;
    const scalar_t b = beta, th = theta, k = slope;
    std::vector<scalar_t> mem_buf(r.Mc, scalar_t(0));
    scalar_t* m = mem_buf.data();
    for (int64_t t = 0; t < r.T; ++t) {
      const int64_t off = r.off(t);
      // mem = beta * mem + I[t] (+ s[t-1] @ w_eff_t)
      rec_integrate(r.in + off, m, r.Mc, b);
      if (t > 0) gemm.run(r.sp + off - r.M, m);
      if (r.sg) rec_fire<scalar_t, true>(m, r.sp + off, r.sg + off, r.cnt, r.Mc, th, k);
      else rec_fire<scalar_t, false>(m, r.sp + off, nullptr, r.cnt, r.Mc, th, k);
      if (r.mm) std::copy(m, m + r.Mc, r.mm + off);
    }
  });
}

// Recurrent forward with hard constraints and/or an adaptive threshold (subtractive, detached
// reset): a refractory period of `refractory` steps after each spike (0: none), at most `budget`
// spikes per neuron and sample (0: none), and ALIF's threshold theta + a[t], a[t+1] = rho a[t] +
// kappa s[t] (kappa = 0: fixed threshold). A blocked neuron does not fire and gets no surrogate
// gradient. Why it rounds like the PyTorch loop (neurons/kernel.py), std::fma where that loop's
// ATen ops fuse (add with alpha): these layers ran only on that loop before, so the study's
// numbers for them stay the same. The fixed threshold's reset is folded into w_t as in
// rec_forward; the adaptive one is subtracted per step (w_t = W_rec^T). Outputs as rec_forward.
std::vector<at::Tensor> rec_forward_constrained(at::Tensor current, at::Tensor w_t, double beta,
                                                double theta, double slope, int64_t refractory,
                                                int64_t budget, double kappa, double rho,
                                                bool keep_mem, bool with_surr) {
  const bool adaptive = kappa > 0;
  return rec_forward_frame(current, w_t, keep_mem, with_surr, [=](const auto& r, const auto& gemm) {
    using scalar_t = RowScalar<std::decay_t<decltype(r)>>;
    const scalar_t b = beta, th = theta, k = slope, kap = kappa, rh = rho;
    const int64_t Mc = r.Mc;
    scalar_t* cnt = r.cnt;  // the budget reads the spike counts
    std::vector<scalar_t> m(Mc, scalar_t(0)), adapt(Mc, scalar_t(0)), theta_prev(Mc, th);
    std::vector<int64_t> refr(Mc, 0);
    for (int64_t t = 0; t < r.T; ++t) {
      const int64_t off = r.off(t);
      const scalar_t* x = r.in + off;
      for (int64_t j = 0; j < Mc; ++j) m[j] = std::fma(b, m[j], x[j]);
      if (t > 0) {
        const scalar_t* s_prev = r.sp + off - r.M;
        gemm.run(s_prev, m.data());
        if (adaptive)
          for (int64_t j = 0; j < Mc; ++j) m[j] -= s_prev[j] * theta_prev[j];
      }
      scalar_t* s = r.sp + off;
      for (int64_t j = 0; j < Mc; ++j) {
        const scalar_t th_j = adaptive ? th + adapt[j] : th;
        const bool open = (refractory == 0 || refr[j] == 0) && (budget == 0 || cnt[j] < budget);
        const bool fire = m[j] > th_j && open;
        s[j] = fire ? scalar_t(1) : scalar_t(0);
        cnt[j] += s[j];
        if (r.sg) r.sg[off + j] = open ? surrogate(m[j], th_j, k) : scalar_t(0);
        if (refractory > 0) refr[j] = fire ? refractory : std::max<int64_t>(refr[j] - 1, 0);
        if (adaptive) {
          adapt[j] = std::fma(s[j], kap, adapt[j] * rh);
          theta_prev[j] = th_j;
        }
      }
      if (r.mm) std::copy(m.begin(), m.end(), r.mm + off);
    }
  });
}

// Recurrent backward (subtractive, detached reset): returns {grad_current, grad_w_rec}.
// torch_rounding: the membrane carry rounds as in the PyTorch loop (rec_back_step's kFma), for the
// layers whose forward is rec_forward_constrained.
std::vector<at::Tensor> rec_backward(at::Tensor grad_spikes, at::Tensor grad_mems, at::Tensor surr,
                                     at::Tensor spikes, at::Tensor w_rec, double beta,
                                     c10::optional<at::Tensor> pool_c,
                                     c10::optional<at::Tensor> grad_pooled,
                                     c10::optional<at::Tensor> grad_counts, bool torch_rounding) {
  const SpikeGrads sgr(grad_spikes, grad_counts, pool_c, grad_pooled);
  const bool has_gm = grad_mems.numel() > 0;
  if (has_gm) grad_mems = grad_mems.contiguous();
  surr = surr.contiguous();
  w_rec = w_rec.contiguous();
  const int64_t T = surr.size(0);
  const int64_t B = surr.size(1);
  const int64_t N = surr.size(2);
  const int64_t M = B * N;
  auto grad = at::empty_like(surr);
  AT_DISPATCH_FLOATING_TYPES(surr.scalar_type(), "rec_backward", [&] {
    const scalar_t b = beta;
    const scalar_t* gs_all = sgr.ptr<scalar_t>(sgr.has_gs, sgr.gs);
    const scalar_t* gc_all = sgr.ptr<scalar_t>(sgr.has_gc, sgr.gc);
    const scalar_t* cp = sgr.ptr<scalar_t>(sgr.has_pool, sgr.c);
    const scalar_t* gp_all = sgr.ptr<scalar_t>(sgr.has_pool, sgr.gp);
    const scalar_t* sg_all = surr.data_ptr<scalar_t>();
    const scalar_t* gm_all = has_gm ? grad_mems.data_ptr<scalar_t>() : nullptr;
    scalar_t* g = grad.data_ptr<scalar_t>();
    sgr.dispatch([&]<bool kGs, bool kGc, bool kPool>() {
      for_row_blocks<scalar_t>(B, N, w_rec, [&](int64_t Mc, int64_t off0, const StepGemm<scalar_t>& gemm) {
        std::vector<scalar_t> scratch_buf(Mc);
        scalar_t* scratch = scratch_buf.data();
        for (int64_t t = T - 1; t >= 0; --t) {
          const int64_t off = t * M + off0;
          // scratch = the spikes' gradient (+ d[t+1] @ W_rec): all that reaches step t's spikes.
          spike_grad_rows<scalar_t, kGs, kGc, kPool>(
              gs_all ? gs_all + off : nullptr, gc_all ? gc_all + off0 : nullptr,
              gp_all ? gp_all + off0 : nullptr, cp ? cp[t] : scalar_t(0), scratch, Mc);
          const scalar_t* nx = t == T - 1 ? nullptr : g + off + M;
          if (nx) gemm.run(nx, scratch);
          const scalar_t* gm_t = gm_all ? gm_all + off : nullptr;
          if (torch_rounding)
            rec_back_step<scalar_t, true>(scratch, sg_all + off, nx, gm_t, g + off, Mc, b);
          else
            rec_back_step<scalar_t, false>(scratch, sg_all + off, nx, gm_t, g + off, Mc, b);
        }
      });
    });
  });
  auto grad_w = grad.narrow(0, 1, T - 1).reshape({-1, N}).t().mm(
      spikes.narrow(0, 0, T - 1).reshape({-1, N}));
  return {grad, grad_w};
}

// The recurrent loops' per-step GEMMs alone: sum_t a[t] @ bm ([T, B, K] @ [K, N] -> [B, N]),
// each step one StepGemm call accumulating into a block-resident buffer, on the same row blocks,
// route and threads as the loops. Training never calls it: the kernel benchmark times it as the
// matmul-only bound of a recurrent layer's step GEMMs (benchmarks/bench_kernels.py).
at::Tensor step_gemm_sum(at::Tensor a, at::Tensor bm) {
  a = a.contiguous();
  TORCH_CHECK(a.dim() == 3 && bm.dim() == 2 && a.size(2) == bm.size(0),
              "step_gemm_sum: a [T, B, K] and bm [K, N] expected");
  const int64_t T = a.size(0), B = a.size(1), K = a.size(2), N = bm.size(1);
  auto out = at::zeros({B, N}, a.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "step_gemm_sum", [&] {
    const scalar_t* ap = a.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    for_row_blocks<scalar_t>(B, N, bm, [&](int64_t, int64_t off0, const StepGemm<scalar_t>& gemm) {
      const int64_t row0 = off0 / N;
      for (int64_t t = 0; t < T; ++t) gemm.run(ap + (t * B + row0) * K, op + off0);
    });
  });
  return out;
}

void set_direct_blas(bool on) { g_direct_blas = on; }

// Which GEMM route the recurrent loops take for float32: "packed", "plain" or "aten".
std::string direct_blas_route() {
  if (!g_direct_blas) return "aten";
  if (cblas_sgemm_pack_get_size && cblas_sgemm_pack && cblas_sgemm_compute) return "packed";
  return sgemm_ ? "plain" : "aten";
}

}  // namespace

namespace spikesparse {
void bind_rate_code(pybind11::module& m);    // rate_code.cpp: the rate code's fused draw
void bind_first_spike(pybind11::module& m);  // first_spike.cpp: the first-spike penalty's mask
void bind_adam(pybind11::module& m);  // adam.cpp: torch's foreach Adam step, fused
void bind_if_step(pybind11::module& m);  // if_step.cpp: the conversion's IF neuron step
void bind_pair_pool(pybind11::module& m);  // pair_pool.cpp: the size-2 average pool
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  namespace py = pybind11;
  m.def("ff_forward", &ff_forward);
  m.def("ff_backward", &ff_backward, py::arg("grad_spikes"), py::arg("grad_mems"),
        py::arg("surr"), py::arg("spikes"), py::arg("beta"), py::arg("zero_reset"),
        py::arg("pool_c") = py::none(), py::arg("grad_pooled") = py::none(),
        py::arg("grad_counts") = py::none());
  m.def("rec_forward", &rec_forward);
  m.def("rec_backward", &rec_backward, py::arg("grad_spikes"), py::arg("grad_mems"),
        py::arg("surr"), py::arg("spikes"), py::arg("w_rec"), py::arg("beta"),
        py::arg("pool_c") = py::none(), py::arg("grad_pooled") = py::none(),
        py::arg("grad_counts") = py::none(), py::arg("torch_rounding") = false);
  m.def("rec_forward_constrained", &rec_forward_constrained);
  m.def("step_gemm_sum", &step_gemm_sum);
  m.def("set_direct_blas", &set_direct_blas);
  m.def("direct_blas_route", &direct_blas_route);
  spikesparse::bind_rate_code(m);
  spikesparse::bind_first_spike(m);
  spikesparse::bind_adam(m);
  spikesparse::bind_if_step(m);
  spikesparse::bind_pair_pool(m);
}
