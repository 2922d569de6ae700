// The random half of the rate code in one pass: gather each sample's firing probabilities, draw
// one uniform number per step and input neuron from the run's CPU generator, and write the spike
// (u < p) straight into the time-major output.
//
// Why: torch.rand on the CPU fills a tensor one element at a time through a generic serial loop
// (about 6.5 ns per number here), and the rate code then needs a gather (prob[index]) and a
// comparison as separate passes; in an E1 training step these three took about 30 % of the time.
//
// The numbers are torch's, bit for bit: the same Mersenne Twister (at::mt19937, whose state is
// read from and written back to the torch.Generator), consumed in the same order (the output's
// [T, B, C] memory order, as torch.rand of that shape would fill it), and the same conversion of
// a 32-bit draw to a float in [0, 1) (the low 24 bits times 2^-24, exact). A run that draws its
// spikes here and one that draws them with torch.rand + torch.lt see the same spikes and leave
// the generator in the same state (tests/test_encoding.py checks both).
#include <torch/extension.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/MT19937RNGEngine.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

namespace {

constexpr int kN = at::MERSENNE_STATE_N;
constexpr int kM = at::MERSENNE_STATE_M;
constexpr uint32_t kUpper = 0x80000000u;
constexpr uint32_t kLower = 0x7fffffffu;
constexpr uint32_t kMatrixA = 0x9908b0dfu;

inline uint32_t twist(uint32_t u, uint32_t v) {
  return (((u & kUpper) | (v & kLower)) >> 1) ^ ((v & 1u) ? kMatrixA : 0u);
}

// at::mt19937_engine::next_state, the same recurrence over the whole state.
inline void regenerate(uint32_t* __restrict__ s) {
  int i = 0;
  for (; i < kN - kM; ++i) s[i] = s[i + kM] ^ twist(s[i], s[i + 1]);
  for (; i < kN - 1; ++i) s[i] = s[i + kM - kN] ^ twist(s[i], s[i + 1]);
  s[kN - 1] = s[kM - 1] ^ twist(s[kN - 1], s[0]);
}

inline uint32_t temper(uint32_t y) {
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

// The engine's bookkeeping (at::mt19937_engine::operator()): a call decrements `left`, rebuilds
// the state when it reaches 0 (then left = N, next = 0), and returns state[next++]. So from any
// valid state, `left - 1` draws remain before the next rebuild, starting at state[next].
struct Stream {
  at::mt19937_data_pod& d;

  // Spikes for n inputs: out[i] = (draw_i as float in [0, 1)) < p[i].
  inline void spikes(const float* __restrict__ p, float* __restrict__ out, int64_t n) {
    constexpr float kScale = 1.0f / 16777216.0f;  // 2^-24
    while (n > 0) {
      if (d.left_ == 1) {  // what the next operator() call would do: rebuild, then read state[0]
        regenerate(d.state_.data());
        d.left_ = kN + 1;
        d.next_ = 0;
      }
      const int64_t take = std::min<int64_t>(n, d.left_ - 1);
      const uint32_t* __restrict__ s = d.state_.data() + d.next_;
      for (int64_t i = 0; i < take; ++i) {
        const float u = static_cast<float>(temper(s[i]) & 0x00ffffffu) * kScale;
        out[i] = u < p[i] ? 1.0f : 0.0f;
      }
      d.left_ -= static_cast<int>(take);
      d.next_ += static_cast<uint32_t>(take);
      p += take;
      out += take;
      n -= take;
    }
  }
};

// prob: [N, T, C] float32 with unit stride over C (a static code expanded over T has stride 0
// there); index: int64 [B] rows of prob. Returns spikes [T, B, C], contiguous.
torch::Tensor rate_spikes(const torch::Tensor& prob, const torch::Tensor& index,
                          std::optional<at::Generator> generator) {
  TORCH_CHECK(prob.device().is_cpu() && index.device().is_cpu(), "rate_spikes runs on the CPU");
  TORCH_CHECK(prob.scalar_type() == torch::kFloat32, "rate_spikes takes float32 probabilities");
  TORCH_CHECK(prob.dim() == 3 && prob.stride(2) == 1, "prob must be [N, T, C] with unit stride over C");
  TORCH_CHECK(index.scalar_type() == torch::kInt64 && index.dim() == 1, "index must be int64 [B]");
  const int64_t n_rows = prob.size(0), n_steps = prob.size(1), n_in = prob.size(2);
  const int64_t batch = index.size(0);
  auto idx = index.contiguous();
  const int64_t* rows = idx.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    TORCH_CHECK(rows[b] >= 0 && rows[b] < n_rows, "index ", rows[b], " out of range for ", n_rows, " rows");
  }
  auto out = torch::empty({n_steps, batch, n_in}, prob.options());
  const float* base = prob.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const int64_t s_row = prob.stride(0), s_step = prob.stride(1);

  auto* gen = at::get_generator_or_default<at::CPUGeneratorImpl>(
      generator, at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen->mutex_);
  at::mt19937 engine = gen->engine();
  at::mt19937_data_pod data = engine.data();
  Stream stream{data};
  for (int64_t t = 0; t < n_steps; ++t) {
    for (int64_t b = 0; b < batch; ++b) {
      stream.spikes(base + rows[b] * s_row + t * s_step, o, n_in);
      o += n_in;
    }
  }
  engine.set_data(data);
  gen->set_engine(engine);
  return out;
}

}  // namespace

namespace spikesparse {

void bind_rate_code(pybind11::module& m) {
  m.def("rate_spikes", &rate_spikes, "Bernoulli rate-code spikes [T, B, C] from prob[index]",
        pybind11::arg("prob"), pybind11::arg("index"), pybind11::arg("generator") = pybind11::none());
}

}  // namespace spikesparse
