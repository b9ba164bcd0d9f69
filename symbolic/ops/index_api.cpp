// The user functions of the index family (symbolic/index.hpp). They check what only the
// call site knows (null Vars, tensor indices), canonicalise the index so that equal
// expressions hash-cons, and build the nodes of ops/index.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "symbolic/elementwise.hpp"
#include "symbolic/index.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/index_detail.hpp"
#include "symbolic/shape.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

using namespace index_detail;

void require(const Var& v, std::string_view what, std::string_view op,
             std::source_location loc) {
  if (v.is_null()) throw_error(op, fmt::format("{} is a null Var", what), loc);
}

bool is_int_entry(const Index& entry) {
  if (std::holds_alternative<std::int64_t>(entry.value)) return true;
  const Var* v = std::get_if<Var>(&entry.value);
  return v && v->rank() == 0;
}

// Collects the index scalars of a basic index and turns bounds into attribute fields.
class FieldBuilder {
 public:
  explicit FieldBuilder(std::source_location loc) : loc_(loc) {}

  static std::int64_t static_field(std::int64_t value) {
    return std::clamp(value, -max_static, max_static);
  }
  std::int64_t bound_field(const Bound& b) {
    if (b.is_none()) return slot_none;
    if (const auto* v = std::get_if<std::int64_t>(&b.value)) return static_field(*v);
    return scalar_field(std::get<Var>(b.value));
  }
  // Constant integers become static; other integer scalars become int64 inputs (each Var
  // once). Anything else is passed on for type inference to reject with the entry number.
  std::int64_t scalar_field(const Var& v) {
    require(v, "an index scalar", "subtensor", loc_);
    if (is_integer(v.dtype()))
      if (auto c = constant_int(v)) return static_field(*c);
    const Var s = v.rank() == 0 && is_integer(v.dtype()) ? cast(v, DType::Int64, loc_) : v;
    for (std::size_t k = 0; k < scalars_.size(); ++k)
      if (scalars_[k].same(s)) return slot_input + static_cast<std::int64_t>(k);
    scalars_.push_back(s);
    return slot_input + static_cast<std::int64_t>(scalars_.size() - 1);
  }
  const std::vector<Var>& scalars() const { return scalars_; }

 private:
  std::source_location loc_;
  std::vector<Var> scalars_;
};

// The subtensor node of the basic entries; the advanced entry (if any) acts as a full
// slice.
Var basic_subtensor(const Var& x, const std::vector<Index>& index, int advanced,
                    std::source_location loc) {
  FieldBuilder fields(loc);
  std::vector<Entry> entries;
  for (int i = 0; i < static_cast<int>(index.size()); ++i) {
    const auto& value = index[i].value;
    if (std::holds_alternative<NewAxisT>(value) || i == advanced) {
      entries.push_back(i == advanced ? Entry{} : Entry{entry_newaxis});
    } else if (const auto* s = std::get_if<Slice>(&value)) {
      entries.push_back({entry_slice, fields.bound_field(s->start), fields.bound_field(s->stop),
                         s->step.is_none() ? 1 : fields.bound_field(s->step)});
    } else if (const auto* v = std::get_if<Var>(&value)) {
      entries.push_back({entry_int, fields.scalar_field(*v)});
    } else {
      entries.push_back({entry_int, FieldBuilder::static_field(std::get<std::int64_t>(value))});
    }
  }
  // Canonical form: static negative integers on static dims count from the start, and
  // trailing full slices go (unless there are too many indices, which inference reports).
  const Shape& dims = x.static_shape();
  int axis = 0;
  for (Entry& e : entries) {
    if (e.kind == entry_newaxis) continue;
    if (axis < x.rank() && e.kind == entry_int && is_static(e.start) && e.start < 0 &&
        dims[axis] != unknown_dim && e.start >= -dims[axis])
      e.start += dims[axis];
    ++axis;
  }
  if (axis <= x.rank())
    while (!entries.empty() && entries.back().kind == entry_slice &&
           entries.back().start == slot_none && entries.back().stop == slot_none &&
           entries.back().step == 1)
      entries.pop_back();
  // x(idx) gathers from x itself. Without a tensor index the identity node stays, so that
  // set_subtensor(x(slice()), y) has an indexing expression to work on.
  if (entries.empty() && advanced >= 0) return x;
  Ints kinds, values;
  encode(entries, kinds, values);
  std::vector<Var> inputs{x};
  inputs.insert(inputs.end(), fields.scalars().begin(), fields.scalars().end());
  return apply(ops::subtensor_op(), std::move(inputs),
               Attrs{{"kinds", std::move(kinds)}, {"values", std::move(values)}}, loc);
}

// set_subtensor / inc_subtensor on the node that produced `indexed`.
Var update(const Var& indexed, const Var& y, const std::string& mode, std::string_view fn,
           std::source_location loc) {
  require(indexed, "the indexed expression", fn, loc);
  require(y, "y", fn, loc);
  const Node& node = *indexed.node();
  if (&node.op() == &ops::subtensor_op()) {
    const Var& x = node.input(0);
    std::vector<Var> inputs{x, cast(y, x.dtype(), loc)};
    inputs.insert(inputs.end(), node.inputs().begin() + 1, node.inputs().end());
    Attrs attrs = node.attrs();
    return apply(ops::inc_subtensor_op(), std::move(inputs), attrs.set("mode", mode), loc);
  }
  if (&node.op() == &ops::take_op()) {
    const Var& base = node.input(0);
    Var updated = apply(ops::inc_take_op(), {base, node.input(1), cast(y, base.dtype(), loc)},
                        Attrs{{"axis", node.attrs().get_int("axis")}, {"mode", mode}}, loc);
    // x(slice(1, 3), idx) is a take of a basic view: write the updated view back into x,
    // as numpy's x[1:3, idx] = y does.
    if (&base.node()->op() == &ops::subtensor_op()) return update(base, updated, "set", fn, loc);
    return updated;
  }
  throw_error(fn,
              fmt::format("the first argument must be an indexing expression such as "
                          "x(slice(1, 3)), got the output of {} ({})",
                          node.op().name, indexed.type().str()),
              loc);
}

// One bound of arange as an int64 (or float) scalar input.
Var arange_bound(const Dim& d, std::string_view what, std::source_location loc) {
  if (const auto* v = std::get_if<std::int64_t>(&d.value))
    return constant(Array::scalar<std::int64_t>(*v), loc);
  const Var& v = std::get<Var>(d.value);
  require(v, what, "arange", loc);
  return v.rank() == 0 && is_integer(v.dtype()) ? cast(v, DType::Int64, loc) : v;
}

}  // namespace

Var subtensor(const Var& x, const std::vector<Index>& index, std::source_location loc) {
  require(x, "the indexed tensor", "subtensor", loc);
  int advanced = -1;
  for (int i = 0; i < static_cast<int>(index.size()); ++i) {
    const Var* v = std::get_if<Var>(&index[i].value);
    if (!v) continue;
    require(*v, fmt::format("index entry {}", i), "subtensor", loc);
    if (v->rank() == 0) continue;
    const std::string problem = index_type_problem(v->type());
    if (!problem.empty())
      throw_error("subtensor", fmt::format("index entry {}: {} (indexing {})", i, problem,
                                           x.type().str()),
                  loc);
    if (advanced >= 0)
      throw_error("subtensor",
                  fmt::format("only one advanced (tensor) index per expression is supported "
                              "(entries {} and {} indexing {}); index in two steps",
                              advanced, i, x.type().str()),
                  loc);
    advanced = i;
  }
  const Var basic = basic_subtensor(x, index, advanced, loc);
  if (advanced < 0) return basic;

  // The gathered axis of the basic view: one per slice or newaxis before the tensor index.
  std::int64_t axis = 0;
  for (int i = 0; i < advanced; ++i) axis += is_int_entry(index[i]) ? 0 : 1;
  const Var& indices = std::get<Var>(index[advanced].value);
  Var out = take(basic, indices, axis, loc);
  // numpy counts integers as advanced indices too: when a slice or newaxis separates one
  // from the tensor index, the index dims go to the front instead of replacing the axis.
  int first = advanced, last = advanced;
  for (int i = 0; i < static_cast<int>(index.size()); ++i)
    if (is_int_entry(index[i])) first = std::min(first, i), last = std::max(last, i);
  bool separated = false;
  for (int i = first; i < last; ++i) separated |= !is_int_entry(index[i]) && i != advanced;
  if (!separated || axis == 0) return out;
  std::vector<std::int64_t> pattern;
  const std::int64_t r = indices.rank();
  for (std::int64_t k = 0; k < r; ++k) pattern.push_back(axis + k);
  for (std::int64_t k = 0; k < axis; ++k) pattern.push_back(k);
  for (std::int64_t k = axis + r; k < out.rank(); ++k) pattern.push_back(k);
  return dimshuffle(out, pattern, loc);
}

Var Var::operator()(std::source_location loc) const { return subtensor(*this, {}, loc); }
Var Var::operator()(const Index& i0) const { return subtensor(*this, {i0}, i0.loc); }
Var Var::operator()(const Index& i0, const Index& i1) const {
  return subtensor(*this, {i0, i1}, i0.loc);
}
Var Var::operator()(const Index& i0, const Index& i1, const Index& i2) const {
  return subtensor(*this, {i0, i1, i2}, i0.loc);
}
Var Var::operator()(const Index& i0, const Index& i1, const Index& i2, const Index& i3) const {
  return subtensor(*this, {i0, i1, i2, i3}, i0.loc);
}
Var Var::operator()(const Index& i0, const Index& i1, const Index& i2, const Index& i3,
                    const Index& i4) const {
  return subtensor(*this, {i0, i1, i2, i3, i4}, i0.loc);
}
Var Var::operator()(const Index& i0, const Index& i1, const Index& i2, const Index& i3,
                    const Index& i4, const Index& i5) const {
  return subtensor(*this, {i0, i1, i2, i3, i4, i5}, i0.loc);
}
Var Var::operator[](const Index& index) const { return subtensor(*this, {index}, index.loc); }

Var set_subtensor(const Var& indexed, const Var& y, std::source_location loc) {
  return update(indexed, y, "set", "set_subtensor", loc);
}

Var inc_subtensor(const Var& indexed, const Var& y, std::source_location loc) {
  return update(indexed, y, "inc", "inc_subtensor", loc);
}

Var take(const Var& x, const Var& indices, std::int64_t axis, std::source_location loc) {
  require(x, "x", "take", loc);
  require(indices, "indices", "take", loc);
  // An out-of-range axis goes through unchanged for inference to report.
  const int ax = normalize_axis(axis, x.rank());
  return apply(ops::take_op(), {x, indices}, Attrs{{"axis", ax >= 0 ? std::int64_t{ax} : axis}},
               loc);
}

Var one_hot(const Var& indices, const Dim& depth, DType dtype, std::source_location loc) {
  require(indices, "indices", "one_hot", loc);
  if (!is_integer(indices.dtype()))
    throw_error("one_hot", fmt::format("indices must be integers, got {}", indices.type().str()),
                loc);
  if (auto* d = std::get_if<std::int64_t>(&depth.value); d && *d < 0)
    throw_error("one_hot", fmt::format("depth must be >= 0, got {}", *d), loc);
  // one_hot(i, d)[..., k] = (i[...] == k)
  return cast(eq(expand_dims(indices, -1, loc), arange(depth, DType::Int64, loc), loc), dtype,
              loc);
}

Var arange(const Dim& stop, DType dtype, std::source_location loc) {
  return arange(0, stop, 1, dtype, loc);
}

Var arange(const Dim& start, const Dim& stop, const Dim& step, DType dtype,
           std::source_location loc) {
  return apply(ops::arange_op(),
               {arange_bound(start, "start", loc), arange_bound(stop, "stop", loc),
                arange_bound(step, "step", loc)},
               Attrs{{"dtype", dtype}}, loc);
}

}  // namespace cgvm
