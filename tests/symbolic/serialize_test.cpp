// Graph text for the compile cache: exact round trips, deterministic keys, locations,
// leaves, and corrupted text caught with a message that names the line.
#include "symbolic/serialize.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>

#include "cgvm.hpp"
#include "support.hpp"
#include "symbolic/op_list.hpp"

using namespace cgvm;

namespace {

// Many op kinds, with leaves in a fixed order: the inputs, then the shared variables.
struct Model {
  std::vector<Var> leaves;
  std::vector<Var> outputs;
};

Model build_model() {
  Var x = tensor("x", float32, {unknown_dim, 3});
  Var idx = vector("idx", int64);
  SharedVar w = shared(Array::ones({3, 4}), "w");
  RandomStreams rng(7);
  Var noise = rng.uniform({2, 3});  // a two-output node: [next state, sample]
  Var e = exp(x) * 2 + sqrt(abs(x)) - 1.5;
  Var mask = constant(Array::from_list<bool>({true, false, true}));
  Var special = constant(std::nan(""), float64) + constant(-0.0, float64) +
                constant(std::numeric_limits<double>::infinity(), float64);
  std::vector<Var> outs{
      sum(e, {1}, true),
      max(e, 0),
      e.reshape({-1}),
      e.dimshuffle({1, 0}),
      x(slice(1, -1), 2),
      x(slice(none, none, -2)),
      take(x, idx, 0),
      matmul(e, w).astype(float64) * special,
      where(mask, e, constant(Array::from_list<std::int32_t>({1, -2, 3}))),
      x(slice(0, 2)) + noise,
      noise.node()->output(0),
      constant(Array::zeros({0, 3}, int16)),
      concatenate({x, grad_clip(x, -1.0, 1.0)}, 0) <
          constant(Array::from_list<std::uint8_t>({0, 255, 7})),
      x,  // an output may be a leaf itself
  };
  return {{x, idx, w, rng.states()[0]}, outs};
}

std::string key_of(const Model& m) {
  return serialize_graph(m.outputs, m.leaves, {}, {.with_locations = false});
}

std::size_t line_of(const std::string& text, std::string_view needle) {
  std::size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + at, '\n')) + 1;
}

}  // namespace

TEST_CASE("serialize: a graph of many op kinds reads back as the same nodes") {
  Model m = build_model();
  auto locations = graph_locations(m.outputs);
  std::vector<const Node*> order;
  std::string text = serialize_graph(m.outputs, m.leaves, locations, {}, &order);
  INFO(text);
  CHECK(
      text.starts_with("cgvm-graph 1\nleaves input:float32[?,3] input:int64[?] "
                       "shared:float32[?,?] shared:int64[?]\n"));
  for (std::string part :
       {"random_uniform leaf3 ", "bool[3]:010001", "int16[0,3]: ", "uint8[3]:00ff07",
        "keepdims=true", "lo=-0x1p+0 hi=0x1p+0", "subtensor", "take", "matmul", "cast",
        "dimshuffle", "reshape", "concatenate", "where", "outputs "})
    CHECK_MESSAGE(text.find(part) != std::string::npos, part);
  if constexpr (std::endian::native == std::endian::little)  // NaN, -0.0, inf constants
    for (std::string bytes : {"000000000000f87f", "0000000000000080", "000000000000f07f"})
      CHECK_MESSAGE(text.find("float64[]:" + bytes) != std::string::npos, bytes);

  ReadGraph back = deserialize_graph(text, m.leaves, locations);
  REQUIRE(back.outputs.size() == m.outputs.size());
  for (std::size_t i = 0; i < m.outputs.size(); ++i) CHECK(back.outputs[i].same(m.outputs[i]));
  CHECK(back.nodes == order);
  CHECK(serialize_graph(back.outputs, m.leaves, locations) == text);

  // With the original nodes gone, reading builds fresh ones; writing them gives the text back.
  std::size_t live_with_graph = live_node_count();
  m.outputs.clear();
  back = {};
  CHECK(live_node_count() < live_with_graph);
  back = deserialize_graph(text, m.leaves, locations);
  CHECK(live_node_count() == live_with_graph);
  CHECK(serialize_graph(back.outputs, m.leaves, locations) == text);
}

TEST_CASE("serialize: attribute values round-trip bit for bit") {
  Var x = vector("x");
  auto nan_bits = [](std::uint64_t b) { return std::bit_cast<double>(b); };
  Array transposed = Array::from_list<std::int16_t>({1, -2, 3, -4, 5, -32768}, {2, 3}).transpose();
  Attrs attrs{
      {"s", std::string("q\"uote\\back\nnew\ttab\x01\x7f \xc3\xbc end")},
      {"empty", std::string()},
      {"nan", nan_bits(0x7ff0000000000123ULL)},
      {"negnan", nan_bits(0xfff8000000000000ULL)},
      {"inf", std::numeric_limits<double>::infinity()},
      {"ninf", -std::numeric_limits<double>::infinity()},
      {"nzero", -0.0},
      {"denormal", std::numeric_limits<double>::denorm_min()},
      {"big", std::numeric_limits<double>::max()},
      {"tenth", 0.1},
      {"imin", std::numeric_limits<std::int64_t>::min()},
      {"imax", std::numeric_limits<std::int64_t>::max()},
      {"yes", true},
      {"no", false},
      {"dtype", DType::UInt8},
      {"none", Ints{}},
      {"ints", Ints{std::numeric_limits<std::int64_t>::min(), 0, -1}},
      {"bools", Array::from_list<bool>({true, false, false, true}, {2, 2})},
      {"empty_array", Array::zeros({0}, float64)},
      {"scalar_nan", Array::full({}, std::nan(""), float32)},
      {"strided", transposed},
  };
  std::string text;
  {
    // stop_gradient ignores attributes, so any may be attached to it.
    Var y = apply(ops::stop_gradient_op(), {x}, attrs, std::source_location::current());
    text = serialize_graph(std::vector<Var>{y}, std::vector<Var>{x}, {});
    ReadGraph back = deserialize_graph(text, std::vector<Var>{x}, {});
    CHECK(back.outputs[0].same(y));
  }
  INFO(text);
  ReadGraph fresh = deserialize_graph(text, std::vector<Var>{x}, {});
  CHECK(fresh.outputs[0].node()->attrs() == attrs);
  const Array& strided = fresh.outputs[0].node()->attrs().get_array("strided");
  CHECK(strided.shape() == Shape{3, 2});
  CHECK(array_equal(strided, transposed));
}

TEST_CASE("serialize: the key text is deterministic and follows the structure") {
  std::string first = key_of(build_model());
  CHECK(first == key_of(build_model()));  // fresh inputs, states, ids and addresses
  CHECK(first.find('@') == std::string::npos);

  auto small = [](std::int64_t axis, double c, DType dtype) {
    Var x = matrix("x", dtype);
    Var y = sum(x * constant(c, dtype), {axis});
    return serialize_graph(std::vector<Var>{y}, std::vector<Var>{x}, {}, {.with_locations = false});
  };
  std::string base = small(0, 2.0, float64);
  CHECK(base == small(0, 2.0, float64));
  CHECK(base != small(1, 2.0, float64));
  CHECK(base != small(0, 2.0000001, float64));
  CHECK(base != small(0, 2.0, float32));
}

namespace {
// The same input graph at two places in the source; the "optimized" graph (a rewrite of it)
// carries the input nodes' locations, as optimizer passes do.
Var input_graph_a(const Var& x) {
  Var a = exp(x);
  return a * 3;
}
Var input_graph_b(const Var& x) {
  Var a = exp(x);

  return a * 3;
}
Var rewrite_of(const Var& in) {
  const Node& mul = *in.node();
  const Node& exp = *mul.input(0).node();
  Var x = exp.input(0);
  Var t = apply(ops::tanh_op(), {x}, {}, exp.location());
  return apply(ops::neg_op(), {t}, {}, mul.location());
}
}  // namespace

TEST_CASE("serialize: read-back nodes take the current process's lines") {
  Var x = vector("x");
  std::vector<Var> leaves{x};
  std::string text;
  unsigned old_line = 0;
  {
    Var in = input_graph_a(x);
    old_line = in.node()->location().line();
    Var opt = rewrite_of(in);
    text = serialize_graph(std::vector<Var>{opt}, leaves, graph_locations(std::vector<Var>{in}));
  }
  INFO(text);
  // @2, not @3: the constant 3 was made by the same call as the product; the first wins.
  CHECK(text.find("tanh leaf0 -> float32[?] @1\nneg %0 -> float32[?] @2\n") != std::string::npos);

  Var in = input_graph_b(x);
  ReadGraph back = deserialize_graph(text, leaves, graph_locations(std::vector<Var>{in}));
  REQUIRE(back.nodes.size() == 2);
  CHECK(back.nodes[0]->location().line() == in.node()->input(0).node()->location().line());
  CHECK(back.nodes[1]->location().line() == in.node()->location().line());
  CHECK(back.nodes[1]->location().line() != old_line);
  CHECK(std::string(back.nodes[1]->location().file_name()).ends_with("serialize_test.cpp"));

  // A location index outside the caller's list is corruption, not a silent default.
  CHECK_ERROR(deserialize_graph(text, leaves, {}), {"line 3", "location @1", "0 locations"});
}

TEST_CASE("serialize: leaves are identified by position and checked") {
  Var a = vector("v"), b = vector("v");
  Var out = a - b;
  std::string text = serialize_graph(std::vector<Var>{out}, std::vector<Var>{a, b}, {});
  CHECK(text.find("sub leaf0 leaf1 ") != std::string::npos);
  CHECK(deserialize_graph(text, std::vector<Var>{a, b}, {}).outputs[0].same(out));
  CHECK(deserialize_graph(text, std::vector<Var>{b, a}, {}).outputs[0].same(b - a));

  CHECK_ERROR(deserialize_graph(text, std::vector<Var>{a, matrix("m")}, {}),
              {"line 2", "leaf1 is input:float32[?]", "input:float32[?,?]"});
  CHECK_ERROR(deserialize_graph(text, std::vector<Var>{a, vector("i", int32)}, {}),
              {"leaf1", "int32"});
  CHECK_ERROR(deserialize_graph(text, std::vector<Var>{a, b, a}, {}),
              {"2 leaves", "the caller gave 3"});
  SharedVar s = shared(Array::ones({2}), "s");
  CHECK_ERROR(deserialize_graph(text, std::vector<Var>{a, s}, {}), {"leaf1", "shared:"});

  CHECK_ERROR(serialize_graph(std::vector<Var>{out}, std::vector<Var>{a}, {}),
              {"serialize_graph", "input 'v'", "float32[?]", "not among the leaves"});
  CHECK_ERROR(serialize_graph(std::vector<Var>{out * s}, std::vector<Var>{a, b}, {}),
              {"shared 's'", "not among the leaves"});
  CHECK_ERROR(serialize_graph(std::vector<Var>{out}, std::vector<Var>{a, b, out}, {}),
              {"leaf 2 is not a symbolic input or shared variable"});
  Var holding_state = apply(ops::stop_gradient_op(), {a}, Attrs{{"state", s.state()}},
                            std::source_location::current());
  CHECK_ERROR(serialize_graph(std::vector<Var>{holding_state}, std::vector<Var>{a, s}, {}),
              {"attribute 'state'", "stop_gradient", "serialize_test.cpp"});
}

TEST_CASE("serialize: corrupted text is an Error naming the line") {
  Var x = tensor("x", float32, {unknown_dim, 3});
  Var out = exp(x) + log(x);
  std::vector<Var> leaves{x}, outs{out};
  std::string text = serialize_graph(outs, leaves, {}, {.with_locations = false});
  INFO(text);
  REQUIRE(text ==
          "cgvm-graph 1\nleaves input:float32[?,3]\n"
          "exp leaf0 -> float32[?,3]\nlog leaf0 -> float32[?,3]\n"
          "add %0 %1 -> float32[?,3]\noutputs %2\nend\n");
  auto read = [&](const std::string& t) { return deserialize_graph(t, leaves, {}); };
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string t = text;
    std::size_t at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  CHECK(read(text).outputs[0].same(out));

  // Every truncation (short of the last newline) is caught.
  for (std::size_t n = 0; n + 1 < text.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    CHECK_THROWS_AS(read(text.substr(0, n)), Error);
  }
  CHECK_ERROR(read(text.substr(0, text.find("outputs"))), {"truncated", "'outputs' line"});
  CHECK_ERROR(read(text.substr(0, text.find("add") + 22)), {"line 5", "expected ']'"});
  CHECK_ERROR(read(text.substr(0, text.find("end"))), {"truncated", "'end' line"});

  CHECK_ERROR(read(replaced("exp leaf0", "exq leaf0")), {"line 3", "unknown op 'exq'"});
  CHECK_ERROR(read(replaced("add %0 %1 -> float32[?,3]", "add %0 %1 -> float32[?,4]")),
              {"line 5", "float32[?,4]", "infers float32[?,3]"});
  CHECK_ERROR(read(replaced("add %0 %1 -> float32", "add %0 %1 -> float64")),
              {"line 5", "float64[?,3]"});
  CHECK_ERROR(read(replaced("leaves input:float32[?,3]", "leaves input:float32[?,2]")),
              {"line 2", "leaf0"});
  CHECK_ERROR(read(replaced("add %0 %1", "add %0 %0")), {"line 4", "not used by any output"});
  CHECK_ERROR(read(replaced("add %0 %1", "add %0 %7")), {"line 5", "%7"});
  CHECK_ERROR(read(replaced("add %0 %1", "add %0 %1.1")), {"line 5", "1 output"});
  CHECK_ERROR(read(replaced("exp leaf0", "exp leaf3")), {"line 3", "leaf3 is out of range"});
  CHECK_ERROR(read(replaced("exp leaf0", "add leaf0")), {"line 3", "add rejects"});
  CHECK_ERROR(read(replaced("cgvm-graph 1", "cgvm-graph 2")), {"line 1", "version"});
  CHECK_ERROR(read(text + "more\n"), {"line 8", "after the 'end' line"});
  CHECK_ERROR(read("hello, world"), {"line 1", "not a graph text"});
  CHECK_ERROR(read(""), {"not a graph text"});
  CHECK_ERROR(read(std::string("cgvm-graph 1\n\x01\xff\x00zz", 18)), {"line 2", "'leaves'"});

  Var c = x * constant(Array::from_list<float>({1, 2, 3}));
  std::string ctext = serialize_graph(std::vector<Var>{c}, leaves, {}, {.with_locations = false});
  std::size_t at = ctext.find("]:") + 2;
  INFO(ctext);
  CHECK_ERROR(deserialize_graph(std::string(ctext).replace(at, 1, "g"), leaves, {}),
              {"line 3", "bad byte"});
  CHECK_ERROR(deserialize_graph(std::string(ctext).replace(at, 2, ""), leaves, {}),
              {"line 3", "needs 24 hex digits, the text has 22"});
  std::string wide = ctext;
  wide.replace(wide.find("float32[3]:"), 11, "float32[999999999999999]:");
  CHECK_ERROR(deserialize_graph(wide, leaves, {}), {"line 3", "hex digits"});
  CHECK(line_of(ctext, "mul") == 4);
}

TEST_CASE("serialize: a 10,000-node graph is written and read in milliseconds") {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  Var x = vector("x");
  std::vector<Var> leaves{x};
  std::string text, key;
  std::vector<std::source_location> locations;
  std::size_t nodes = 0;
  double t_write = 0, t_key = 0, t_read_alive = 0;
  {
    Var h = x;
    for (int i = 0; i < 2500; ++i) h = tanh(h * (1.0 + i * 1e-3)) + x;
    std::vector<Var> outs{h};
    locations = graph_locations(outs);
    std::vector<const Node*> order;
    auto t0 = Clock::now();
    text = serialize_graph(outs, leaves, locations, {}, &order);
    auto t1 = Clock::now();
    key = serialize_graph(outs, leaves, {}, {.with_locations = false});
    auto t2 = Clock::now();
    ReadGraph back = deserialize_graph(text, leaves, locations);
    auto t3 = Clock::now();
    CHECK(back.outputs[0].same(h));
    nodes = order.size();
    t_write = ms(t1 - t0), t_key = ms(t2 - t1), t_read_alive = ms(t3 - t2);
  }
  CHECK(nodes >= 10000);
  auto t0 = Clock::now();
  ReadGraph fresh = deserialize_graph(text, leaves, locations);
  auto t1 = Clock::now();
  CHECK(fresh.nodes.size() == nodes);
  CHECK(serialize_graph(fresh.outputs, leaves, {}, {.with_locations = false}) == key);
  MESSAGE(nodes << " nodes, " << text.size() << " bytes: serialize " << t_write << " ms, key text "
                << t_key << " ms, deserialize (nodes alive) " << t_read_alive
                << " ms, deserialize (fresh nodes) " << ms(t1 - t0) << " ms");
}
