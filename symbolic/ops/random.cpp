// Random draws. Each op takes a generator state (a shared int64 vector [key, counter], see
// symbolic/random.hpp) and the sample's dims, and returns the advanced state and the sample.
// function() writes the advanced state back after every call.
#include <fmt/format.h>

#include <optional>

#include "runtime/device.hpp"
#include "runtime/random.hpp"
#include "symbolic/elementwise.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/random.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

std::vector<TensorType> infer_draw(const InferArgs& a) {
  const TensorType& state = a.input(0);
  if (state.dtype != DType::Int64 || state.rank() != 1)
    a.fail("the first input must be a random state (int64 vector [key, counter])");
  DType dtype = a.attrs.get_dtype("dtype");
  return {state, TensorType{dtype, static_sizes(a.inputs.subspan(1))}};
}

using DrawFn = Array (*)(Generator&, const Shape&, const Attrs&, DType);

// The draw a device repeats for an op of `kind` (its attrs: low and high, or mean and
// stddev).
DeviceDraw device_draw(DeviceDraw::Kind kind, const Attrs& attrs, std::uint64_t key,
                       std::uint64_t counter) {
  if (kind == DeviceDraw::Kind::Integers) {
    const std::int64_t low = attrs.get_int("low"), high = attrs.get_int("high");
    return {.kind = kind, .key = key, .counter = counter, .low = low,
            .range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low)};
  }
  const bool normal = kind == DeviceDraw::Kind::Normal;
  return {.kind = kind, .key = key, .counter = counter,
          .a = attrs.get_double(normal ? "mean" : "low"),
          .b = attrs.get_double(normal ? "stddev" : "high")};
}

// Reads [key, counter], draws the sample, returns [new state, sample]. On a device (with a
// `kind` it repeats) the sample is drawn there, and the state is read and advanced where it
// is: on the host, or on the device (a state carried through a scan's steps). Integers are
// drawn on the device from a state there only (DeviceDraw; a device executor puts it
// there), else on the host.
std::vector<Array> run_draw(const EvalArgs& a, DrawFn draw,
                            std::optional<DeviceDraw::Kind> kind) {
  const Array& state = a.inputs[0];
  if (state.size() != 2) a.fail("a random state must hold two int64 values [key, counter]");
  Shape shape;
  for (std::size_t i = 1; i < a.inputs.size(); ++i) {
    std::int64_t d = a.inputs[i].item<std::int64_t>();
    if (d < 0) a.fail(fmt::format("negative dimension {} in the sample shape", d));
    shape.push_back(d);
  }
  const DType dtype = a.output_type(1).dtype;
  const bool here = a.device && kind;
  const bool integers = kind == DeviceDraw::Kind::Integers;
  if (here && state.context() == a.device) {
    Array sample = Array::empty(shape, integers ? DType::Int64 : dtype, a.device);
    Array next = Array::empty({2}, DType::Int64, a.device);
    a.device->draw(sample, device_draw(*kind, a.attrs(), 0, 0), state.contiguous(), next);
    return {next, sample.dtype() == dtype ? sample : sample.astype(dtype)};
  }
  const auto words = state.to_vector<std::int64_t>();
  const auto key = static_cast<std::uint64_t>(words[0]);
  const auto counter = static_cast<std::uint64_t>(words[1]);
  Array sample;
  std::uint64_t next_counter;
  if (here && !integers) {
    sample = Array::empty(shape, dtype, a.device);
    a.device->draw(sample, device_draw(*kind, a.attrs(), key, counter));
    next_counter = counter + DeviceDraw::blocks(*kind, dtype, sample.size());
  } else {
    Generator gen(key, counter);
    sample = draw(gen, shape, a.attrs(), dtype);
    next_counter = gen.counter();
  }
  return {Array::from_list<std::int64_t>({words[0], static_cast<std::int64_t>(next_counter)}),
          sample};
}

// `kind`: the device draw that repeats `draw` (none: the op draws on the host only).
OpDef draw_op(std::string_view name, DrawFn draw,
              std::optional<DeviceDraw::Kind> kind = std::nullopt) {
  return OpDef{
      .name = name,
      .family = OpFamily::Random,
      .min_inputs = 1,
      .max_inputs = -1,
      .infer = infer_draw,
      .eval = [draw, kind](const EvalArgs& a) { return run_draw(a, draw, kind); },
      .state_input = 0,
      .state_output = 0,
      .on_device = kind ? any_device : std::function<bool(const Node&)>{},
      // [key, counter]: read where it is, except integers', which the device reads and
      // advances itself (a device function moves their state over for good).
      .anywhere_inputs = kind == DeviceDraw::Kind::Integers ? std::vector<int>{}
                                                            : std::vector<int>{0},
      .device_work = {.draws = kind.has_value()},
  };
}

}  // namespace

namespace ops {

// Uniform in [low, high): attrs low, high, dtype (float).
const OpDef& random_uniform_op() {
  static const OpDef def = draw_op(
      "random_uniform", [](Generator& g, const Shape& s, const Attrs& at, DType d) {
        return Array::uniform(g, s, at.get_double("low"), at.get_double("high"), d);
      },
      DeviceDraw::Kind::Uniform);
  return def;
}

// Normal: attrs mean, stddev, dtype (float).
const OpDef& random_normal_op() {
  static const OpDef def = draw_op(
      "random_normal", [](Generator& g, const Shape& s, const Attrs& at, DType d) {
        return Array::normal(g, s, at.get_double("mean"), at.get_double("stddev"), d);
      },
      DeviceDraw::Kind::Normal);
  return def;
}

// Integers in [low, high): attrs low, high, dtype (integer).
const OpDef& random_integers_op() {
  static const OpDef def = draw_op(
      "random_integers", [](Generator& g, const Shape& s, const Attrs& at, DType d) {
        Array out = Array::empty(s, DType::Int64);
        std::int64_t low = at.get_int("low"), high = at.get_int("high");
        std::int64_t* p = out.data<std::int64_t>();
        for (std::int64_t i = 0; i < out.size(); ++i) p[i] = g.next_integer(low, high);
        return out.astype(d);
      },
      DeviceDraw::Kind::Integers);
  return def;
}

}  // namespace ops

Array random_state(std::uint64_t key, std::uint64_t counter) {
  return Array::from_list<std::int64_t>(
      {static_cast<std::int64_t>(key), static_cast<std::int64_t>(counter)});
}

namespace {
// SplitMix64: spreads consecutive draw numbers into unrelated Philox keys.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

RandomStreams::RandomStreams(std::uint64_t seed) : seed_(seed) {}

SharedVar RandomStreams::new_state() {
  std::uint64_t key = mix(seed_ ^ mix(states_.size()));
  states_.push_back(shared(random_state(key), fmt::format("rng_state_{}", states_.size())));
  return states_.back();
}

void RandomStreams::seed(std::uint64_t seed) {
  seed_ = seed;
  for (std::size_t i = 0; i < states_.size(); ++i)
    states_[i].set_value(random_state(mix(seed_ ^ mix(i))));
}

Var RandomStreams::uniform(const Dims& shape, double low, double high, DType dtype,
                           std::source_location loc) {
  if (!is_float(dtype)) throw_error("random_uniform", "dtype must be a float type", loc);
  if (!(low < high))
    throw_error("random_uniform", fmt::format("low ({}) must be < high ({})", low, high), loc);
  std::vector<Var> inputs = dim_vars(shape, "random_uniform", loc);
  inputs.insert(inputs.begin(), new_state());
  return make_node(ops::random_uniform_op(), inputs,
                   Attrs{{"low", low}, {"high", high}, {"dtype", dtype}}, loc)
      ->output(1);
}

Var RandomStreams::normal(const Dims& shape, double mean, double stddev, DType dtype,
                          std::source_location loc) {
  if (!is_float(dtype)) throw_error("random_normal", "dtype must be a float type", loc);
  if (!(stddev >= 0))
    throw_error("random_normal", fmt::format("stddev must be >= 0, got {}", stddev), loc);
  std::vector<Var> inputs = dim_vars(shape, "random_normal", loc);
  inputs.insert(inputs.begin(), new_state());
  return make_node(ops::random_normal_op(), inputs,
                   Attrs{{"mean", mean}, {"stddev", stddev}, {"dtype", dtype}}, loc)
      ->output(1);
}

Var RandomStreams::integers(const Dims& shape, std::int64_t low, std::int64_t high, DType dtype,
                            std::source_location loc) {
  if (!is_integer(dtype)) throw_error("random_integers", "dtype must be an integer type", loc);
  if (!(low < high))
    throw_error("random_integers", fmt::format("low ({}) must be < high ({})", low, high), loc);
  std::vector<Var> inputs = dim_vars(shape, "random_integers", loc);
  inputs.insert(inputs.begin(), new_state());
  return make_node(ops::random_integers_op(), inputs,
                   Attrs{{"low", low}, {"high", high}, {"dtype", dtype}}, loc)
      ->output(1);
}

Var RandomStreams::bernoulli(const Dims& shape, double p, DType dtype,
                             std::source_location loc) {
  if (!(p >= 0 && p <= 1))
    throw_error("bernoulli", fmt::format("p must be in [0, 1], got {}", p), loc);
  return cast(lt(uniform(shape, 0, 1, DType::Float64, loc), p, loc), dtype, loc);
}

}  // namespace cgvm
