// Determinism switches and numerics read-backs of libtorch's global context that tch does not
// expose. Compiled by build.rs against the headers of the PyTorch wheel (feature `torch`).
#include <ATen/Context.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <cstring>
#include <string>

namespace {
// Copies `s` into `out` (at most `cap` bytes with the terminating NUL); returns its length.
int copy_out(const std::string& s, char* out, int cap) {
  if (cap <= 0) return static_cast<int>(s.size());
  int n = static_cast<int>(s.size()) < cap - 1 ? static_cast<int>(s.size()) : cap - 1;
  std::memcpy(out, s.data(), n);
  out[n] = '\0';
  return static_cast<int>(s.size());
}
}  // namespace

extern "C" {

// Turns deterministic mode on or off: deterministic algorithms (errors on ops that have no
// deterministic implementation), deterministic cuDNN, no cuDNN autotuning, and TF32 off for
// both cuBLAS matmuls and cuDNN convolutions (so fp32 means fp32 on Ampere and later).
void sapipe_set_deterministic(int on) {
  auto& ctx = at::globalContext();
  ctx.setDeterministicAlgorithms(on != 0, /*warn_only=*/false);
  ctx.setDeterministicCuDNN(on != 0);
  ctx.setBenchmarkCuDNN(false);
  if (on != 0) {
    ctx.setAllowTF32CuBLAS(false);
    ctx.setAllowTF32CuDNN(false);
  }
}

// Reads back the settings in force, as bit flags:
// 1 deterministic algorithms, 2 deterministic cuDNN, 4 cuDNN benchmark,
// 8 TF32 allowed in cuBLAS, 16 TF32 allowed in cuDNN, 32 oneDNN (mkldnn) enabled.
int sapipe_determinism_flags() {
  auto& ctx = at::globalContext();
  int flags = 0;
  if (ctx.deterministicAlgorithms()) flags |= 1;
  if (ctx.deterministicCuDNN()) flags |= 2;
  if (ctx.benchmarkCuDNN()) flags |= 4;
  if (ctx.allowTF32CuBLAS()) flags |= 8;
  if (ctx.allowTF32CuDNN()) flags |= 16;
  if (ctx.userEnabledMkldnn()) flags |= 32;
  return flags;
}

// The vectorised-kernel set ATen dispatches to in this process ("AVX2", "AVX512", "DEFAULT").
// Fixed at the first dispatch (from ATEN_CPU_CAPABILITY or the CPU), so read it after pinning.
int sapipe_cpu_capability(char* out, int cap) {
  try {
    return copy_out(at::get_cpu_capability(), out, cap);
  } catch (...) {
    return copy_out("", out, cap);
  }
}

// CUDA runtime and cuDNN versions libtorch was built with and runs (0 when CUDA is absent).
// No exception crosses into Rust: a hook that cannot answer reads as 0.
long sapipe_cuda_runtime_version() {
  try {
    const auto& hooks = at::detail::getCUDAHooks();
    return hooks.hasCUDA() ? hooks.versionCUDART() : 0;
  } catch (...) {
    return 0;
  }
}

long sapipe_cudnn_version() {
  try {
    const auto& hooks = at::detail::getCUDAHooks();
    return hooks.hasCUDA() && hooks.hasCuDNN() ? hooks.versionCuDNN() : 0;
  } catch (...) {
    return 0;
  }
}

}
