#pragma once
// Lowering: the optimized graph and its fusion plan -> a Program (codegen/program.hpp).
#include <vector>

#include "codegen/program.hpp"
#include "optimizer/fuse_kernels.hpp"

namespace cgvm {

// `inputs` are the function's symbolic inputs, `outputs` everything it returns (outputs then
// new values of shared variables). Kernels are named cgk0, cgk1, ... in step order.
Program lower(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
              const FusionPlan& plan);

}  // namespace cgvm
