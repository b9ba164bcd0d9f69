// The CUDA emitter without NVRTC: the kernels' parameter layout, the shape of the code for
// maps and reductions, and the launch plans (grid, block, mode) for the common cases.
// tests/cuda/cuda_emit_test.cpp compiles the emitted source with NVRTC.
#include "cgvm.hpp"
#include "codegen/emit_cuda.hpp"
#include "op_values.hpp"

using namespace cgvm;
using namespace cgvm::test;

namespace {

const CudaDeviceShape kH100{.multiprocessors = 132, .max_threads_per_block = 1024};

// The loop sizes and strides of `kernel` when its operands are contiguous arrays of `shape`
// (every operand of these tests has the first operand's shape) and results contiguous.
struct Extents {
  std::vector<long long> size, stride;
};
Extents contiguous_extents(const LoopKernel& kernel, const Shape& shape) {
  Extents e;
  e.size.assign(static_cast<std::size_t>(kernel.num_dims), 1);
  const std::size_t args = kernel.operands.size() + kernel.results.size();
  e.stride.assign(args * static_cast<std::size_t>(kernel.num_dims), 0);
  const std::vector<int>& dims = kernel.operands.at(0).dims;
  for (std::size_t axis = 0; axis < dims.size(); ++axis)
    if (dims[axis] >= 0) e.size[static_cast<std::size_t>(dims[axis])] = shape[axis];
  for (std::size_t a = 0; a < args; ++a) {
    const KernelArg& arg = a < kernel.operands.size() ? kernel.operands[a]
                                                      : kernel.results[a - kernel.operands.size()];
    long long step = 1;
    for (std::size_t axis = arg.dims.size(); axis-- > 0;) {
      const int d = arg.dims[axis];
      if (d < 0) continue;
      e.stride[a * static_cast<std::size_t>(kernel.num_dims) + static_cast<std::size_t>(d)] = step;
      step *= e.size[static_cast<std::size_t>(d)];
    }
  }
  return e;
}

CudaLaunch plan(const LoopKernel& kernel, const Shape& shape) {
  Extents e = contiguous_extents(kernel, shape);
  return plan_cuda_launch(kernel, e.size, e.stride, kH100);
}

}  // namespace

TEST_CASE("emit_cuda: one __global__ function per kernel, its parameter sized for its args") {
  Var x = matrix("x"), y = matrix("y");
  Program p = lower_as_written({x, y}, {tanh(x) * y});
  REQUIRE(p.kernels.size() == 1);
  const LoopKernel& k = p.kernels[0];
  // mode, 2 dims, 3 args (x, y, the result), 3 x 2 strides, splits and scratch memory.
  CHECK(cuda_param_words(k) == 1 + 2 + 3 + 6 + 2);
  const std::string source = emit_cuda(p);
  CHECK(source.starts_with(std::string(cuda_prelude())));
  CHECK(source.find("struct cgk0_params { long long w[14]; };") != std::string::npos);
  CHECK(source.find("extern \"C\" __global__ void cgk0(const cgk0_params params)") !=
        std::string::npos);
  CHECK(source.find("cgm::tanh") != std::string::npos);
  // One launch's parameter: mode, sizes, addresses, strides, splits, scratch memory; a wrong
  // count is our bug.
  const std::vector<long long> size{5, 7}, address{100, 200, 300}, stride{7, 1, 7, 1, 7, 1};
  const CudaLaunch launch{.grid = 1, .block = 64, .mode = 0};
  CHECK(cuda_kernel_parameter(k, launch, size, address, stride) ==
        std::vector<long long>{0, 5, 7, 100, 200, 300, 7, 1, 7, 1, 7, 1, 1, 0});
  CHECK(cuda_kernel_parameter(k, {.mode = 3, .splits = 9}, size, address, stride, 4096).back() == 4096);
  CHECK_THROWS_AS(cuda_kernel_parameter(k, launch, size, {address.data(), 2}, stride),
                  InternalError);
  // A map kernel has no barrier.
  CHECK(source.find("__syncthreads") == std::string::npos);
}

TEST_CASE("emit_cuda: a row softmax reduces with shuffles and shared memory, NaN-aware max") {
  Var x = matrix("x");
  Program p = lower_as_written({x}, {softmax(x)});
  const std::string source = emit_cuda(p);
  // One array of slots for the kernel's reductions, each seeing it as its own type.
  CHECK(source.find("__shared__ unsigned long long cgvm_slots[") != std::string::npos);
  CHECK(source.find("float* const shared") != std::string::npos);
  CHECK(source.find("__shared__ bool cgvm_nan_slots[") != std::string::npos);  // max keeps NaN
  CHECK(source.find("cgvm_shfl_down(") != std::string::npos);
  CHECK(source.find("__syncthreads();") != std::string::npos);
  CHECK(source.find("const int mode = (int)params.w[0];") != std::string::npos);
  CHECK(source.find("if (mode == 1 || mode == 3)") != std::string::npos);  // block reductions
  CHECK(source.find("if (mode == 2)") != std::string::npos);  // the column reduction
}

TEST_CASE("emit_cuda: launch plans") {
  SUBCASE("a map: 256 threads, enough blocks to cover it up to 32 per multiprocessor") {
    Var v = vector("v");
    Program p = lower_as_written({v}, {exp(v) + 1});
    CudaLaunch small = plan(p.kernels[0], {1000});
    CHECK(small.block == 256);
    CHECK(small.grid == 4);
    CHECK(small.mode == 0);
    CudaLaunch big = plan(p.kernels[0], {1LL << 26});
    CHECK(big.grid == 32 * 132);
    CHECK(plan(p.kernels[0], {0}).grid == 0);  // empty: nothing to launch
  }
  SUBCASE("long contiguous rows: a block per row") {
    Var x = matrix("x");
    Program p = lower_as_written({x}, {x.sum(Axes{1})});
    REQUIRE(p.kernels[0].reduces);
    CudaLaunch l = plan(p.kernels[0], {4096, 1024});
    CHECK(l.mode == 1);
    CHECK(l.block == 256);
    CHECK(l.grid == 4096);
    // A row of 40 elements gets the 64 threads it can use.
    CHECK(plan(p.kernels[0], {4096, 40}).block == 64);
  }
  SUBCASE("short rows: a thread per row") {
    Var x = matrix("x");
    Program p = lower_as_written({x}, {x.max(Axes{1})});
    CudaLaunch l = plan(p.kernels[0], {100000, 10});
    CHECK(l.mode == 0);
    CHECK(l.block == 256);
    CHECK(l.grid == (100000 + 255) / 256);
  }
  SUBCASE("sums down columns: a warp of columns per block, rows of threads down them") {
    Var x = matrix("x");
    Program p = lower_as_written({x}, {x.sum(Axes{0})});
    CudaLaunch l = plan(p.kernels[0], {100000, 512});
    CHECK(l.mode == 2);
    CHECK(l.block == 256);
    CHECK(l.grid == 512 / 32);
    CHECK(plan(p.kernels[0], {512, 1000000}).grid == 32 * 132);  // capped; the rounds loop
    // Fewer columns than a warp: blocks per column instead (few outputs: split).
    CHECK(plan(p.kernels[0], {100000, 8}).mode == 3);
    // Short columns: a thread per column.
    CHECK(plan(p.kernels[0], {20, 512}).mode == 0);
  }
  SUBCASE("everything into one value: split over the device, then combined") {
    Var v = vector("v");
    Program p = lower_as_written({v}, {v.sum()});
    REQUIRE(cuda_splittable(p.kernels[0]));
    CudaLaunch l = plan(p.kernels[0], {1 << 20});
    CHECK(l.mode == 3);
    CHECK(l.block == 256);
    CHECK(l.splits == 4 * 132);  // four blocks per multiprocessor
    CHECK(l.grid == 4 * 132);
    CHECK(l.scratch_bytes == 4 * 132 * 16);
    const std::vector<CudaLaunch> passes = cuda_passes(l);
    REQUIRE(passes.size() == 2);
    CHECK(passes[1].mode == 4);
    CHECK(passes[1].grid == 1);
    CHECK(passes[1].block == 32);
    CHECK(cuda_passes(plan(p.kernels[0], {1000})).size() == 1);  // too short to split: mode 1
    // Each block takes at least 4 points per thread: 2^12 points make 4 splits.
    CHECK(plan(p.kernels[0], {1 << 12}).splits == 4);
  }
  SUBCASE("split only where every result is per outer point") {
    Var x = matrix("x"), v = vector("v");
    // A softmax row's last kernel stores per point: one row stays in one block.
    Program softmax_row = lower_as_written({x}, {softmax(x)});
    CHECK_FALSE(cuda_splittable(softmax_row.kernels.back()));
    CHECK(plan(softmax_row.kernels.back(), {1, 1 << 20}).mode == 1);
    // Two independent reductions and what follows them: split.
    Program range = lower_as_written({v}, {v.max() - v.min()});
    REQUIRE(range.kernels.size() == 1);
    CHECK(cuda_splittable(range.kernels[0]));
    CHECK(plan(range.kernels[0], {1 << 20}).scratch_bytes == 2 * 4 * 132 * 16);
  }
}
