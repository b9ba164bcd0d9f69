// Function::memory_report: the memory one call takes for given input shapes, before running,
// checked against the program's buffer plan worked out by hand.
#include "cgvm.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {

// exp(x) @ w, then tanh: exp's result is a slot (read by the product, not returned), the
// product an eval result, tanh's the returned value.
struct Chain {
  Var x = matrix("x"), w = matrix("w");
  Function f = function({x, w}, {tanh(dot(exp(x), w))});
};

}  // namespace

TEST_CASE("memory report: slots, results alive at once, arguments") {
  Chain c;
  const std::string program = c.f.program();
  INFO(program);
  REQUIRE(program.find("eval matmul") != std::string::npos);  // the plan the figures assume
  MemoryReport r = c.f.memory_report({{8, 16}, {16, 4}});
  CHECK(r.argument_bytes == (8 * 16 + 16 * 4) * 4);
  CHECK(r.source_bytes == 0);
  CHECK(r.slot_bytes == 8 * 16 * 4);  // exp(x), kept between calls
  // at tanh's step the product (its operand) and tanh's result are both alive
  CHECK(r.peak_bytes == 8 * 16 * 4 + 2 * 8 * 4 * 4);
  CHECK(r.peak_at.starts_with("kernel"));
  CHECK(r.unknown.empty());
  CHECK(r.str().find("peak 768 B") != std::string::npos);

  // every size follows the batch
  MemoryReport big = c.f.memory_report({{800, 16}, {16, 4}});
  CHECK(big.peak_bytes == 100 * r.peak_bytes);
  CHECK(big.str().find("75.0 KiB") != std::string::npos);
}

TEST_CASE("memory report: sizes computed from shapes are folded; sizes from values are unknown") {
  Var x = matrix("x");
  Var n = scalar("n", DType::Int64);
  Var flat = exp(reshape(x, {x.shape(0) * x.shape(1)}));  // size known from x's shape
  Var ramp = exp(cast(arange(0, n), DType::Float32)) + 1;  // size is n's value
  Function f = function({x, n}, {flat, ramp});
  MemoryReport r = f.memory_report({{3, 4}, {}});
  CHECK(r.unknown.size() == 2);  // arange and what is computed from it
  // flat: 12 float32 elements returned, its reshaped view takes nothing
  CHECK(r.peak_bytes >= 12 * 4);
  CHECK(r.str().find("2 values have sizes that depend on input values") != std::string::npos);
}

TEST_CASE("memory report: user mistakes raise the error the call would") {
  Chain c;
  CHECK_ERROR(c.f.memory_report({{8, 16}}), {"1 input shapes given, the function takes 2"});
  CHECK_ERROR(c.f.memory_report({{8, 16, 1}, {16, 4}}),
              {"input 0 ('x') is float32[?, ?]", "[8, 16, 1]"});
  CHECK_ERROR(c.f.memory_report({{8, 16}, {5, 4}}),
              {"matmul: inner dimensions do not match", "float32[8, 16] @ float32[5, 4]",
               test::this_file()});
  Var t = tensor("t", DType::Float32, {2, 3});
  Function g = function({t}, {exp(t)});
  CHECK_ERROR(g.memory_report({{2, 4}}), {"input 0 ('t') is float32[2, 3]", "[2, 4]"});
  CHECK(g.memory_report({{2, 3}}).peak_bytes == 2 * 3 * 4);
  Function interpreted = function({t}, {exp(t)}, {.mode = Mode::Interpret});
  CHECK_ERROR(interpreted.memory_report({{2, 3}}), {"interpret mode", "Mode::Compiled"});
}

TEST_CASE("memory report: shared variables are counted apart, their current shapes used") {
  Var x = matrix("x");
  SharedVar w = shared(Array::full({16, 4}, 0.5), "w");
  Function f = function({x}, {tanh(dot(exp(x), w))});
  MemoryReport r = f.memory_report({{8, 16}});
  CHECK(r.source_bytes == 16 * 4 * 4);
  CHECK(r.argument_bytes == 8 * 16 * 4);
  CHECK(r.peak_bytes == 8 * 16 * 4 + 2 * 8 * 4 * 4);
}

TEST_CASE("memory report: a returned view of a kept buffer is copied; views take nothing") {
  Var x = matrix("x");
  // exp(x) is a slot; its flattened view is returned, so the call copies it out
  Function f = function({x}, {reshape(exp(x), {-1})});
  INFO(f.program());
  MemoryReport r = f.memory_report({{4, 8}});
  CHECK(r.slot_bytes == 4 * 8 * 4);
  CHECK(r.peak_bytes == 2 * 4 * 8 * 4);
  // stop_gradient and a transpose are views of what they read
  Function g = function({x}, {tanh(stop_gradient(exp(x)).T())});
  MemoryReport rg = g.memory_report({{4, 8}});
  INFO(g.program());
  CHECK(rg.peak_bytes == rg.slot_bytes + 4 * 8 * 4);
}
