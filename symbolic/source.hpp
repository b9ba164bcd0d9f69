#pragma once
// Where graphs start: symbolic inputs, constants and shared variables.
#include <source_location>
#include <string>

#include "symbolic/args.hpp"
#include "symbolic/node.hpp"

namespace cgvm {

// A symbolic input of the given dtype and static shape (unknown_dim where unknown). Each call
// makes a distinct input, even with the same name.
Var tensor(const std::string& name, DType dtype, const Shape& static_shape,
           std::source_location loc = std::source_location::current());
// Theano's constructors: all dimensions unknown, except row (1, ?) and col (?, 1).
Var scalar(const std::string& name = "", DType dtype = default_float,
           std::source_location loc = std::source_location::current());
Var vector(const std::string& name = "", DType dtype = default_float,
           std::source_location loc = std::source_location::current());
Var matrix(const std::string& name = "", DType dtype = default_float,
           std::source_location loc = std::source_location::current());
Var tensor3(const std::string& name = "", DType dtype = default_float,
            std::source_location loc = std::source_location::current());
Var tensor4(const std::string& name = "", DType dtype = default_float,
            std::source_location loc = std::source_location::current());
Var row(const std::string& name = "", DType dtype = default_float,
        std::source_location loc = std::source_location::current());
Var col(const std::string& name = "", DType dtype = default_float,
        std::source_location loc = std::source_location::current());

// A constant tensor. Its static shape is the array's shape. The array is copied (to the host
// where it is on a device: a device function moves its constants over once).
Var constant(const Array& value, std::source_location loc = std::source_location::current());
// A constant scalar of the given dtype.
Var constant(double value, DType dtype,
             std::source_location loc = std::source_location::current());

bool is_input(const Var& v);
bool is_constant(const Var& v);
bool is_shared(const Var& v);

}  // namespace cgvm
