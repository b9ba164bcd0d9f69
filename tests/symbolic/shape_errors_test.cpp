// The shape family's user mistakes: each error names the op, the shapes and this file.
// Build-time errors come from inference; run-time ones (unknown sizes that turn out wrong)
// from the reference implementation, still pointing at the line that built the node.
#include "cgvm.hpp"
#include "support.hpp"

using namespace cgvm;
using cgvm::test::this_file;

namespace {
Array seq(const Shape& shape, DType dtype = float32) {
  return Array::arange(shape_size(shape), dtype).reshape(shape);
}
}  // namespace

TEST_CASE("reshape errors") {
  const std::string file = this_file();
  Var x = tensor("x", float32, {2, 3});
  CHECK_ERROR(reshape(x, {4, -1}),
              {"reshape", "cannot reshape float32[2, 3] (6 elements) into [4, -1]", file.c_str()});
  CHECK_ERROR(x.reshape({5}),
              {"reshape", "cannot reshape float32[2, 3] (6 elements) into [5]", file.c_str()});
  CHECK_ERROR(reshape(x, {-1, -1}),
              {"reshape", "only one dimension can be -1", "float32[2, 3]", file.c_str()});
  CHECK_ERROR(reshape(x, {-2, -3}),
              {"reshape", "negative dimension -2 in [-2, -3]", "float32[2, 3]", file.c_str()});
  // Part of the target is symbolic, but no size can make 6 elements out of 4 * n.
  Var n = scalar("n", int64);
  CHECK_ERROR(reshape(x, {4, n}),
              {"reshape", "cannot reshape float32[2, 3] (6 elements) into [4, ?]", file.c_str()});
  CHECK_ERROR(reshape(x, {0, n}), {"reshape", "into [0, ?]", file.c_str()});
  CHECK_ERROR(reshape(Var(tensor("e", float32, {0, 3})), {0, -1}),
              {"reshape", "cannot reshape float32[0, 3] (0 elements) into [0, -1]"});
  CHECK_ERROR(reshape(x, {3, scalar("f")}),
              {"reshape", "dimension 1 must be an integer scalar, got float32[]", file.c_str()});
  CHECK_ERROR(reshape(x, {vector("v", int64)}),
              {"reshape", "dimension 0 must be an integer scalar, got int64[?]", file.c_str()});
  CHECK_ERROR(flatten(matrix("m"), 3), {"flatten", "ndim 3 is out of range for float32[?, ?]",
                                         file.c_str()});
  CHECK_ERROR(flatten(matrix("m"), 0), {"flatten", "ndim 0", file.c_str()});
}

TEST_CASE("errors point at the user's line") {
  Var x = tensor("x", float32, {2, 3});
  int line = __LINE__ + 1;
  std::string msg = cgvm::test::error_message([&] { (void)reshape(x, {4, 4}); });
  CHECK(msg.find(this_file() + ":" + std::to_string(line)) != std::string::npos);
  Var m = matrix("m");
  line = __LINE__ + 1;
  Var y = broadcast_to(m, {2, 4});
  msg = cgvm::test::error_message([&] { (void)evaluate(y, {{m, seq({2, 3})}}); });
  CHECK(msg.find(this_file() + ":" + std::to_string(line)) != std::string::npos);
}

TEST_CASE("reshape run-time errors") {
  const std::string file = this_file();
  Var m = matrix("m");
  Var y = reshape(m, {4, -1});
  CHECK(y.type().str() == "float32[4, ?]");
  CHECK_ERROR(evaluate(y, {{m, seq({2, 3})}}),
              {"reshape", "cannot reshape [2, 3] (6 elements) into [4, -1]", file.c_str()});
  CHECK_ERROR(evaluate(reshape(m, {7}), {{m, seq({2, 3})}}),
              {"reshape", "cannot reshape [2, 3] (6 elements) into [7]", file.c_str()});
  // Only a constant -1 means "infer": a symbolic size that evaluates to -1 is a mistake.
  Var n = scalar("n", int64);
  CHECK_ERROR(evaluate(reshape(m, {n, 2}), {{m, seq({2, 3})}, {n, Array::scalar<std::int64_t>(-1)}}),
              {"reshape", "dimension 0 of the target shape is -1", "float32[2, 3]", file.c_str()});
}

TEST_CASE("dimshuffle, transpose, expand_dims and squeeze errors") {
  const std::string file = this_file();
  Var x = tensor("x", float32, {2, 3});
  CHECK_ERROR(x.dimshuffle({0}),
              {"dimshuffle", "dimshuffle drops axis 1 of float32[2, 3], which is not broadcastable",
               file.c_str()});
  CHECK_ERROR(x.dimshuffle({0, 0}),
              {"dimshuffle", "axis 0 appears twice in pattern [0, 0]", "float32[2, 3]",
               file.c_str()});
  CHECK_ERROR(x.dimshuffle({0, 2}),
              {"dimshuffle", "axis 2 in pattern [0, 2] is out of range for float32[2, 3]",
               file.c_str()});
  CHECK_ERROR(x.dimshuffle({-2, 0, 1}), {"dimshuffle", "axis -2", "float32[2, 3]", file.c_str()});
  // An unknown size is not broadcastable either.
  CHECK_ERROR(dimshuffle(matrix("m"), {1}),
              {"dimshuffle", "drops axis 0 of float32[?, ?]", file.c_str()});
  CHECK_ERROR(transpose(x, {0}),
              {"transpose", "axes [0] are not a permutation of the axes of float32[2, 3]",
               file.c_str()});
  CHECK_ERROR(transpose(x, {1, -1}), {"transpose", "axes [1, -1]", "float32[2, 3]", file.c_str()});
  CHECK_ERROR(transpose(x, {0, 2}), {"transpose", "axes [0, 2]", "float32[2, 3]", file.c_str()});
  CHECK_ERROR(expand_dims(x, 3),
              {"expand_dims", "axis 3 is out of range for float32[2, 3]", file.c_str()});
  CHECK_ERROR(expand_dims(x, -4), {"expand_dims", "axis -4", "float32[2, 3]", file.c_str()});
  Var r = tensor("r", float32, {1, unknown_dim});
  CHECK_ERROR(squeeze(r, {1}),
              {"squeeze", "cannot squeeze axis 1 of float32[1, ?]", file.c_str()});
  CHECK_ERROR(squeeze(x, {0}), {"squeeze", "axis 0 of float32[2, 3]", file.c_str()});
  CHECK_ERROR(squeeze(r, {2}), {"squeeze", "axis 2 is out of range for float32[1, ?]",
                                file.c_str()});
}

TEST_CASE("broadcast_to errors") {
  const std::string file = this_file();
  Var x = tensor("x", float32, {2, 3});
  CHECK_ERROR(broadcast_to(x, {2, 4}),
              {"broadcast_to", "cannot broadcast float32[2, 3] to [2, 4]: dimension 1 has size 3",
               file.c_str()});
  CHECK_ERROR(broadcast_to(x, {3}),
              {"broadcast_to", "cannot broadcast float32[2, 3] to [3]: the target has fewer",
               file.c_str()});
  CHECK_ERROR(broadcast_to(x, {-1, 3}),
              {"broadcast_to", "negative dimension -1 in [-1, 3]", file.c_str()});
  CHECK_ERROR(zeros({2, scalar("f")}),
              {"broadcast_to", "dimension 1 must be an integer scalar, got float32[]",
               file.c_str()});
  CHECK_ERROR(ones({2, -5}), {"broadcast_to", "negative dimension -5 in [2, -5]", file.c_str()});
}

TEST_CASE("broadcast_to run-time errors") {
  const std::string file = this_file();
  Var m = matrix("m");
  CHECK_ERROR(evaluate(broadcast_to(m, {2, 4}), {{m, seq({2, 3})}}),
              {"broadcast_to", "cannot broadcast [2, 3] to [2, 4]: dimension 1 has size 3, not 4",
               file.c_str()});
  // Theano's model: an unknown size that is 1 at run time does not stretch.
  Var v = vector("v");
  CHECK_ERROR(evaluate(broadcast_to(v, {3}), {{v, seq({1})}}),
              {"broadcast_to", "cannot broadcast [1] to [3]: dimension 0 has size 1, not 3",
               file.c_str()});
  Var n = scalar("n", int64);
  CHECK_ERROR(evaluate(zeros({n}), {{n, Array::scalar<std::int64_t>(-2)}}),
              {"broadcast_to", "dimension 0 of the target shape is -2", file.c_str()});
}

TEST_CASE("concatenate and stack errors") {
  const std::string file = this_file();
  Var a = tensor("a", float32, {2, 3}), b = tensor("b", float32, {2});
  Var c = tensor("c", float32, {2, 4});
  CHECK_ERROR(concatenate({a, b}),
              {"concatenate", "parts float32[2, 3] and float32[2] have different ranks",
               file.c_str()});
  CHECK_ERROR(concatenate({a, c}),
              {"concatenate", "parts float32[2, 3] and float32[2, 4] differ in dimension 1",
               file.c_str()});
  // An unknown size in between does not hide the disagreement.
  CHECK_ERROR(concatenate({a, matrix("m"), c}),
              {"concatenate", "parts float32[2, 3] and float32[2, 4] differ in dimension 1"});
  CHECK_ERROR(concatenate({a, c}, 2),
              {"concatenate", "axis 2 is out of range for float32[2, 3]", file.c_str()});
  CHECK_ERROR(concatenate({a}, -3),
              {"concatenate", "axis -3 is out of range for float32[2, 3]", file.c_str()});
  CHECK_ERROR(concatenate({scalar("s"), scalar("t")}),
              {"concatenate", "axis 0 is out of range for float32[]", file.c_str()});
  CHECK_ERROR(concatenate({}), {"concatenate", "needs at least one part", file.c_str()});
  CHECK_ERROR(stack({b, tensor("d", int32, {3})}),
              {"stack", "parts float32[2] and int32[3] differ in dimension 0", file.c_str()});
  CHECK_ERROR(stack({a, b}), {"stack", "float32[2, 3] and float32[2] have different ranks",
                              file.c_str()});
  CHECK_ERROR(stack({a, a}, 3), {"stack", "axis 3 is out of range for parts of float32[2, 3]",
                                 file.c_str()});
  CHECK_ERROR(stack({}), {"stack", "needs at least one part", file.c_str()});
}

TEST_CASE("concatenate run-time errors") {
  const std::string file = this_file();
  Var m = matrix("m"), k = matrix("k");
  CHECK_ERROR(evaluate(concatenate({m, k}), {{m, seq({2, 3})}, {k, seq({1, 4})}}),
              {"concatenate", "parts of shapes [2, 3] and [1, 4] differ in dimension 1",
               file.c_str()});
}

TEST_CASE("shape_of, make_vector, split, repeat and tile errors") {
  const std::string file = this_file();
  Var x = tensor("x", float32, {2, 3});
  CHECK_ERROR(x.shape(2), {"shape_of", "axis 2 is out of range for float32[2, 3]", file.c_str()});
  CHECK_ERROR(matrix("m").shape(-3),
              {"shape_of", "axis -3 is out of range for float32[?, ?]", file.c_str()});
  CHECK_ERROR(make_vector({1, scalar("f", float64)}),
              {"make_vector", "dimension 1 must be an integer scalar, got float64[]", file.c_str()});
  Var v = tensor("v", float32, {4});
  CHECK_ERROR(split(v, {1, 2}),
              {"split", "sizes [1, 2] add up to 3, but axis 0 of float32[4] has size 4",
               file.c_str()});
  CHECK_ERROR(split(v, {5, -1}), {"split", "negative size -1", "float32[4]", file.c_str()});
  CHECK_ERROR(split(v, {4}, 1), {"split", "axis 1 is out of range for float32[4]", file.c_str()});
  CHECK_ERROR(repeat(x, -1, 0),
              {"repeat", "repeats must be >= 0, got -1", "float32[2, 3]", file.c_str()});
  CHECK_ERROR(repeat(x, 2, 2), {"repeat", "axis 2 is out of range for float32[2, 3]", file.c_str()});
  CHECK_ERROR(tile(x, {2, -1}),
              {"tile", "reps must be >= 0, got [2, -1]", "float32[2, 3]", file.c_str()});
}
