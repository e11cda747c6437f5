// Determinism switches of libtorch's global context that tch does not expose.
// Compiled by build.rs against the headers of the PyTorch wheel (feature `torch`).
#include <ATen/Context.h>

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
// 8 TF32 allowed in cuBLAS, 16 TF32 allowed in cuDNN.
int sapipe_determinism_flags() {
  auto& ctx = at::globalContext();
  int flags = 0;
  if (ctx.deterministicAlgorithms()) flags |= 1;
  if (ctx.deterministicCuDNN()) flags |= 2;
  if (ctx.benchmarkCuDNN()) flags |= 4;
  if (ctx.allowTF32CuBLAS()) flags |= 8;
  if (ctx.allowTF32CuDNN()) flags |= 16;
  return flags;
}

}
