#include "symbolic/args.hpp"

#include <fmt/format.h>

#include "symbolic/elementwise.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

std::vector<Var> dim_vars(const Dims& dims, std::string_view op, std::source_location loc) {
  std::vector<Var> vars;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (auto* size = std::get_if<std::int64_t>(&dims[i].value)) {
      vars.push_back(constant(static_cast<double>(*size), DType::Int64, loc));
      continue;
    }
    const Var& v = std::get<Var>(dims[i].value);
    if (v.is_null()) throw_error(op, fmt::format("dimension {} is a null Var", i), loc);
    if (v.rank() != 0 || !is_integer(v.dtype()))
      throw_error(op,
                  fmt::format("dimension {} must be an integer scalar, got {}", i,
                              v.type().str()),
                  loc);
    vars.push_back(cast(v, DType::Int64, loc));
  }
  return vars;
}

Shape static_sizes(std::span<const Var> dims) {
  Shape shape;
  for (const Var& d : dims) shape.push_back(constant_int(d).value_or(unknown_dim));
  return shape;
}

}  // namespace cgvm
