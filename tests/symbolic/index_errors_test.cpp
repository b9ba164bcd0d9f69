// The index family's user errors (subtensor, take, arange, one_hot): each names the op, the
// shapes/dtypes and the user's line, at build time (type inference) and at run time (the
// reference implementation). The errors of set/inc_subtensor are in index_update_test.cpp.
#include "index_helpers.hpp"
#include "symbolic/index.hpp"
#include "symbolic/interpreter.hpp"
#include "symbolic/source.hpp"

using namespace cgvm;
using namespace cgvm::test;

TEST_CASE("subtensor errors at build time") {
  const std::string file = this_file();
  const Var x = tensor("x", float32, {3, 4});
  CHECK_ERROR(x(5), {"subtensor", "index 5 is out of bounds for axis 0 with size 3",
                     "float32[3, 4]", file.c_str()});
  CHECK_ERROR(x(slice(), -5), {"subtensor", "index -5 is out of bounds for axis 1 with size 4",
                               file.c_str()});
  CHECK_ERROR(x(1, 2, 3), {"subtensor", "too many indices: 3 indices for a tensor of rank 2",
                           "float32[3, 4]", file.c_str()});
  // Full slices beyond the rank are still too many (they are not dropped silently).
  CHECK_ERROR(vector("v")(slice(), slice()), {"subtensor", "too many indices", "float32[?]",
                                              file.c_str()});
  CHECK_ERROR(x(slice(none, none, 0)), {"subtensor", "slice step must not be zero",
                                        "float32[3, 4]", file.c_str()});
  CHECK_ERROR(x(scalar("f")), {"subtensor", "index entry 0 must be an integer scalar",
                               "float32[]", file.c_str()});
  CHECK_ERROR(x(1, slice(scalar("f", float64))), {"subtensor", "index entry 1 must be an integer",
                                                  "float64[]", file.c_str()});
  CHECK_ERROR(x(slice(vector("iv", int64))), {"subtensor", "must be an integer scalar",
                                              "int64[?]", file.c_str()});
  const Var i1 = vector("i1", int64), i2 = vector("i2", int64);
  CHECK_ERROR(x(i1, i2), {"subtensor", "only one advanced (tensor) index per expression",
                          "float32[3, 4]", file.c_str()});
  CHECK_ERROR(x(vector("mask", bool_)), {"subtensor", "boolean mask indices are not supported",
                                          "bool[?]", "float32[3, 4]", file.c_str()});
  CHECK_ERROR(x(vector("fi")), {"subtensor", "indices must be an integer tensor", "float32[?]",
                                file.c_str()});
  CHECK_ERROR(subtensor(Var(), {0}), {"subtensor", "null Var", file.c_str()});
}

TEST_CASE("take, arange and one_hot errors at build time") {
  const std::string file = this_file();
  const Var x = tensor("x", float32, {3, 4});
  const Var i = vector("i", int64);
  CHECK_ERROR(take(x, i, 2), {"take", "axis 2 is out of range for rank 2", "float32[3, 4]",
                              file.c_str()});
  CHECK_ERROR(take(x, i, -3), {"take", "axis -3 is out of range for rank 2", file.c_str()});
  CHECK_ERROR(take(x, vector("fi")), {"take", "indices must be an integer tensor", "float32[?]",
                                      file.c_str()});
  CHECK_ERROR(take(x, vector("m", bool_)), {"take", "boolean mask", "bool[?]", file.c_str()});
  CHECK_ERROR(take(x, constant(ints({0, 3}))),
              {"take", "index 3 is out of bounds for axis 0 with size 3", "float32[3, 4]",
               file.c_str()});
  CHECK_ERROR(take(constant(1.0, float32), i), {"take", "rank-0", "float32[]", file.c_str()});

  CHECK_ERROR(arange(0, 5, 0), {"arange", "step must not be zero", file.c_str()});
  CHECK_ERROR(arange(vector("v")), {"arange", "stop must be a numeric scalar", "float32[?]",
                                    file.c_str()});
  CHECK_ERROR(arange(scalar("b", bool_), 3), {"arange", "start must be a numeric scalar",
                                              "bool[]", file.c_str()});
  CHECK_ERROR(arange(5, bool_), {"arange", "dtype bool is not supported", file.c_str()});
  CHECK_ERROR(one_hot(vector("v"), 3), {"one_hot", "indices must be integers", "float32[?]",
                                        file.c_str()});
  CHECK_ERROR(one_hot(i, -1), {"one_hot", "depth must be >= 0", file.c_str()});
}

TEST_CASE("index errors at run time") {
  const std::string file = this_file();
  const Var x = matrix("x");
  const Array xv = iota({3, 4});
  CHECK_ERROR(evaluate(x(5), {{x, xv}}),
              {"subtensor", "index 5 is out of bounds for axis 0 with size 3", "float32[3, 4]",
               file.c_str()});
  const Var i = scalar("i", int64);
  CHECK_ERROR(evaluate(x(slice(), i), {{x, xv}, {i, Array::scalar<std::int64_t>(-5)}}),
              {"subtensor", "index -5 is out of bounds for axis 1 with size 4", file.c_str()});
  CHECK_ERROR(evaluate(x(slice(none, none, i)), {{x, xv}, {i, Array::scalar<std::int64_t>(0)}}),
              {"subtensor", "slice step must not be zero", file.c_str()});

  const Var idx = vector("idx", int64);
  CHECK_ERROR(evaluate(take(x, idx, 1), {{x, xv}, {idx, ints({1, 4})}}),
              {"take", "index 4 is out of bounds for axis 1 with size 4", "float32[3, 4]",
               "int64[2]", file.c_str()});
  CHECK_ERROR(evaluate(x(idx), {{x, xv}, {idx, ints({-4})}}),
              {"take", "index -4 is out of bounds for axis 0 with size 3, at [0] of the indices",
               file.c_str()});
  // Where among a matrix of indices.
  const Var ids = matrix("ids", int64);
  CHECK_ERROR(evaluate(take(x, ids, 0), {{x, xv}, {ids, Array::from_vector<std::int64_t>(
                                                            {0, 1, 2, 3}, {2, 2})}}),
              {"take", "index 3 is out of bounds for axis 0 with size 3, at [1, 1] of the indices",
               file.c_str()});

  const Var s = scalar("s", int64);
  CHECK_ERROR(evaluate(arange(0, 5, s), {{s, Array::scalar<std::int64_t>(0)}}),
              {"arange", "step must not be zero", file.c_str()});
}
