#pragma once
// Devices from the user's side: arrays and shared variables on a GPU, and what runs a
// device function's kernels (FunctionOptions::device, api/function.hpp).
//
//   auto f = function({x, y}, {loss}, {.updates = sgd, .device = Device::cuda()});
//   Array xb = to_device(batch, Device::cuda());  // or pass host arrays: f copies them
//   Array loss = f(xb, yb);                        // a device array: nothing copied back
//   float l = loss.item<float>();                  // copies the one number asked for
//   Array w_now = w.get_value();                   // a host copy; w lives on the GPU
//
// Asking for a GPU where there is none raises cgvm::Error with the reason ("cuda: CUDA is
// not available: no driver: libcuda.so.1 not found ..."). The CUDA plugin is loaded only
// then: a program that never asks for a device never loads cuBLAS or NVRTC.
#include <functional>
#include <memory>
#include <source_location>

#include "codegen/program.hpp"
#include "runtime/array.hpp"
#include "runtime/device.hpp"
#include "symbolic/shared.hpp"

namespace cgvm {

// The context of `device`, one per device and process; nullptr for the CPU. Errors name
// the caller's line.
std::shared_ptr<DeviceContext> device_context(
    Device device, std::source_location loc = std::source_location::current());
// A copy of `a` on `device` (`a` itself when it is already there).
Array to_device(const Array& a, Device device,
                std::source_location loc = std::source_location::current());
// Moves the variable's value to `device`; it lives there from now on (shared.hpp).
void to_device(const SharedVar& v, Device device,
               std::source_location loc = std::source_location::current());

// How a kind of device is reached: its contexts (errors at the given user's line), and
// what compiles a Program's kernels
// for it and launches them (device addresses in the KernelCall, ordered on the context's
// queue). `compile_ms`, when not null, receives the time compiling took.
struct DeviceProvider {
  std::function<std::shared_ptr<DeviceContext>(int ordinal, const std::source_location& loc)>
      context;
  std::function<KernelLauncher(const Program& program,
                               const std::shared_ptr<DeviceContext>& context,
                               double* compile_ms)>
      kernels;
};

namespace detail {
// Replaces the CUDA provider and returns the one in place; an empty provider restores
// the real one. Tests run device functions on an emulated GPU through it.
DeviceProvider replace_cuda_provider(DeviceProvider provider);
DeviceProvider provider(Device::Kind kind);
}  // namespace detail

}  // namespace cgvm
