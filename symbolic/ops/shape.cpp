// Shape ops: reshape, dimshuffle, broadcast_to, concatenate, shape_of, make_vector.
//
// A target shape travels as extra int64 scalar inputs (one per dimension) rather than as an
// attribute, so it may be symbolic (x.shape(0)). Inference reads the constant ones to keep
// static sizes; the others give unknown_dim unless x's own sizes settle them.
// The user functions (normalisation, folding, compositions) are in shape_api.cpp.
// Gradients undo the shape change on the output gradient; the size inputs get none, and
// shape_of / make_vector have int64 outputs, which never receive one.
#include <fmt/format.h>

#include <optional>

#include "symbolic/grad.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/ops/shape_internal.hpp"
#include "symbolic/shape.hpp"

namespace cgvm {
namespace {

using shape_detail::own_axis;

// Dimension inputs start at `first`; each must be an int64 scalar (the user functions cast).
void check_dim_inputs(const InferArgs& a, int first) {
  for (int i = first; i < a.num_inputs(); ++i)
    if (a.input(i).dtype != DType::Int64 || a.input(i).rank() != 0)
      a.fail(fmt::format("dimension {} of the target shape must be an int64 scalar, got {}",
                         i - first, a.input(i).str()));
}

// "[4, -1]", with "?" for symbolic sizes.
std::string target_str(std::span<const Var> dims) {
  std::vector<std::string> parts;
  for (const Var& d : dims) {
    auto v = constant_int(d);
    parts.push_back(v ? std::to_string(*v) : "?");
  }
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

Shape runtime_dims(const EvalArgs& a, int first) {
  Shape dims;
  for (std::size_t i = first; i < a.inputs.size(); ++i)
    dims.push_back(a.inputs[i].item<std::int64_t>());
  return dims;
}

TensorType input_type(const EvalArgs& a, int i) { return a.node.input(i).type(); }

// Reshape inference. Target sizes that are x's own symbolic sizes (x.shape(j)) cancel
// against x, so reshape(x, {x.shape(0), -1}) of float32[?, 3, 4] is float32[?, 12].
std::vector<TensorType> infer_reshape(const InferArgs& a) {
  check_dim_inputs(a, 1);
  const TensorType& x = a.input(0);
  std::span<const Var> dims = a.inputs.subspan(1);
  // Only called when x is fully known.
  auto cannot = [&] {
    a.fail(fmt::format("cannot reshape {} ({} elements) into {}", x.str(), shape_size(x.shape),
                       target_str(dims)));
  };
  Shape out(dims.size(), unknown_dim);
  int infer_at = -1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    auto v = constant_int(dims[i]);
    if (!v) continue;
    if (*v == -1 && infer_at >= 0)
      a.fail(fmt::format("only one dimension can be -1, got {}", target_str(dims)));
    if (*v == -1) infer_at = static_cast<int>(i);
    else if (*v < 0) a.fail(fmt::format("negative dimension {} in {}", *v, target_str(dims)));
    else out[i] = *v;
  }
  // What is left of x and of the target once shared symbolic sizes cancel out.
  std::vector<bool> used(x.rank(), false);
  bool cancelled = false, x_known = true, target_known = true;
  std::int64_t x_rest = 1, target_rest = 1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (static_cast<int>(i) == infer_at) continue;
    int j = out[i] == unknown_dim ? own_axis(dims[i], a.inputs[0]) : -1;
    if (j >= 0 && !used[j]) {
      used[j] = cancelled = true;
      out[i] = x.shape[j];
    } else if (out[i] == unknown_dim) {
      target_known = false;
    } else {
      target_rest *= out[i];
    }
  }
  for (int j = 0; j < x.rank(); ++j)
    if (!used[j]) {
      if (x.shape[j] == unknown_dim) x_known = false;
      else x_rest *= x.shape[j];
    }
  if (!x_known) return {{x.dtype, out}};
  // A cancelled size may be 0 at run time, which makes any target fit: infer, never fail.
  bool fits = target_rest == 0 ? x_rest == 0 && infer_at < 0 : x_rest % target_rest == 0;
  if (!cancelled && !fits) cannot();
  if (!target_known) return {{x.dtype, out}};
  if (infer_at < 0 && !cancelled && x_rest != target_rest) cannot();
  if (infer_at >= 0 && fits && target_rest != 0) out[infer_at] = x_rest / target_rest;
  return {{x.dtype, out}};
}

std::vector<Array> eval_reshape(const EvalArgs& a) {
  const Array& x = a.inputs[0];
  Shape target = runtime_dims(a, 1);
  std::int64_t known = 1;
  int infer_at = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    // Only a constant -1 means "infer"; a symbolic size that comes out negative is a mistake.
    if (target[i] == -1 && constant_int(a.node.input(static_cast<int>(i) + 1))) {
      infer_at = static_cast<int>(i);
      continue;
    }
    if (target[i] < 0)
      a.fail(fmt::format("dimension {} of the target shape is {}", i, target[i]));
    known *= target[i];
  }
  bool ok = infer_at < 0 ? known == x.size() : known != 0 && x.size() % known == 0;
  if (!ok)
    a.fail(fmt::format("cannot reshape {} ({} elements) into {}", shape_str(x.shape()),
                       x.size(), shape_str(target)));
  return {x.reshape(target)};
}

std::vector<TensorType> infer_broadcast_to(const InferArgs& a) {
  check_dim_inputs(a, 1);
  const TensorType& x = a.input(0);
  std::span<const Var> dims = a.inputs.subspan(1);
  const int lead = static_cast<int>(dims.size()) - x.rank();
  if (lead < 0)
    a.fail(fmt::format("cannot broadcast {} to {}: the target has fewer dimensions", x.str(),
                       target_str(dims)));
  Shape out(dims.size(), unknown_dim);
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (auto v = constant_int(dims[i])) {
      if (*v < 0) a.fail(fmt::format("negative dimension {} in {}", *v, target_str(dims)));
      out[i] = *v;
    }
  // Theano's model: only a static 1 stretches; any other size of x must equal the target's.
  for (int j = 0; j < x.rank(); ++j) {
    std::int64_t& t = out[lead + j];
    if (x.shape[j] == 1 || x.shape[j] == unknown_dim) continue;
    if (t == unknown_dim) t = x.shape[j];  // checked at run time
    else if (t != x.shape[j])
      a.fail(fmt::format("cannot broadcast {} to {}: dimension {} has size {}, not {}",
                         x.str(), target_str(dims), j, x.shape[j], t));
  }
  return {{x.dtype, out}};
}

std::vector<Array> eval_broadcast_to(const EvalArgs& a) {
  const Array& x = a.inputs[0];
  const TensorType xt = input_type(a, 0);
  Shape target = runtime_dims(a, 1);
  const std::size_t lead = target.size() - x.rank();
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] < 0)
      a.fail(fmt::format("dimension {} of the target shape is {}", i, target[i]));
    if (i < lead || xt.shape[i - lead] == 1) continue;
    if (x.shape()[i - lead] != target[i])
      a.fail(fmt::format("cannot broadcast {} to {}: dimension {} has size {}, not {}",
                         shape_str(x.shape()), shape_str(target), i - lead,
                         x.shape()[i - lead], target[i]));
  }
  return {x.broadcast_to(target)};
}

// Reads and checks dimshuffle's pattern against x's type: which axes it keeps and drops.
std::vector<TensorType> infer_dimshuffle(const InferArgs& a) {
  const TensorType& x = a.input(0);
  const Ints& pattern = a.attrs.get_ints("pattern");
  std::vector<bool> seen(x.rank(), false);
  Shape out;
  for (std::int64_t p : pattern) {
    if (p == -1) {
      out.push_back(1);
      continue;
    }
    if (p < 0 || p >= x.rank())
      a.fail(fmt::format("axis {} in pattern [{}] is out of range for {}", p,
                         fmt::join(pattern, ", "), x.str()));
    if (seen[p])
      a.fail(fmt::format("axis {} appears twice in pattern [{}]", p, fmt::join(pattern, ", ")));
    seen[p] = true;
    out.push_back(x.shape[p]);
  }
  for (int j = 0; j < x.rank(); ++j)
    if (!seen[j] && x.shape[j] != 1)
      a.fail(fmt::format("dimshuffle drops axis {} of {}, which is not broadcastable", j,
                         x.str()));
  return {{x.dtype, out}};
}

// As a view: kept axes first in output order, dropped (size-1) axes last and squeezed
// away, then the new axes inserted from left to right.
std::vector<Array> eval_dimshuffle(const EvalArgs& a) {
  const Array& x = a.inputs[0];
  const Ints& pattern = a.attrs().get_ints("pattern");
  std::vector<int> perm;
  std::vector<bool> kept(x.rank(), false);
  for (std::int64_t p : pattern)
    if (p >= 0) {
      perm.push_back(static_cast<int>(p));
      kept[p] = true;
    }
  const int dropped = x.rank() - static_cast<int>(perm.size());
  for (int j = 0; j < x.rank(); ++j)
    if (!kept[j]) perm.push_back(j);
  Array v = x.transpose(perm);
  for (int k = 0; k < dropped; ++k) v = v.squeeze(-1);
  for (std::size_t i = 0; i < pattern.size(); ++i)
    if (pattern[i] == -1) v = v.expand_dims(static_cast<int>(i));
  return {v};
}

std::vector<TensorType> infer_concatenate(const InferArgs& a) {
  std::vector<TensorType> parts;
  for (int i = 0; i < a.num_inputs(); ++i) parts.push_back(a.input(i));
  for (const TensorType& t : parts)
    if (t.dtype != parts[0].dtype)
      a.fail(fmt::format("parts {} and {} have different dtypes", parts[0].str(), t.str()));
  const std::int64_t axis = a.attrs.get_int("axis");
  if (axis < 0 || axis >= parts[0].rank())
    a.fail(fmt::format("axis {} is out of range for {}", axis, parts[0].str()));
  std::string why = shape_detail::parts_mismatch(parts, static_cast<int>(axis));
  if (!why.empty()) a.fail(why);
  TensorType out{parts[0].dtype, Shape(parts[0].rank(), unknown_dim)};
  for (int j = 0; j < out.rank(); ++j) {
    std::int64_t total = 0;
    for (const TensorType& t : parts) {
      if (j != axis && t.shape[j] != unknown_dim) out.shape[j] = t.shape[j];
      total = total == unknown_dim || t.shape[j] == unknown_dim ? unknown_dim
                                                                : total + t.shape[j];
    }
    if (j == axis) out.shape[j] = total;
  }
  return {out};
}

std::vector<Array> eval_concatenate(const EvalArgs& a) {
  const int axis = static_cast<int>(a.attrs().get_int("axis"));
  Shape shape = a.inputs[0].shape();
  shape[axis] = 0;
  for (const Array& p : a.inputs) {
    for (int j = 0; j < p.rank(); ++j)
      if (j != axis && p.shape()[j] != shape[j])
        a.fail(fmt::format("parts of shapes {} and {} differ in dimension {}",
                           shape_str(a.inputs[0].shape()), shape_str(p.shape()), j));
    shape[axis] += p.shape()[axis];
  }
  Array out = a.inputs[0].new_empty(shape, a.output_type().dtype);
  std::int64_t offset = 0;
  for (const Array& p : a.inputs) {
    out.slice(axis, offset, offset + p.shape()[axis]).assign(p);
    offset += p.shape()[axis];
  }
  return {out};
}

// The gradient of x alone; the size inputs that follow it get none.
std::vector<Var> x_gradient_only(const GradArgs& a, Var gx) {
  std::vector<Var> grads(a.node.inputs().size());
  grads[0] = std::move(gx);
  return grads;
}

// d reshape(x)/dx: the output gradient reshaped back to x's (possibly symbolic) shape.
std::vector<Var> grad_reshape(const GradArgs& a) {
  return x_gradient_only(a, reshape(a.grad(), dims_of(a.input(0), a.loc()),
                                    a.loc()));
}

// d broadcast_to(x)/dx: the stretched and the leading dims summed back.
std::vector<Var> grad_broadcast_to(const GradArgs& a) {
  return x_gradient_only(a, sum_to_shape(a.grad(), a.input(0).type(), a.loc()));
}

// d dimshuffle(x)/dx: the inverse dimshuffle. The inserted axes are dropped (summed first
// when the gradient does not know they have size 1), and x's dropped axes come back as
// size-1 axes.
std::vector<Var> grad_dimshuffle(const GradArgs& a) {
  const Ints& pattern = a.attrs().get_ints("pattern");
  const Var g = sum_to_shape(a.grad(), a.output().type(), a.loc());
  Ints inverse(a.input(0).rank(), -1);
  for (std::size_t i = 0; i < pattern.size(); ++i)
    if (pattern[i] >= 0) inverse[pattern[i]] = static_cast<std::int64_t>(i);
  return {dimshuffle(g, inverse, a.loc())};
}

// d concatenate(parts)/d part: the part's slice of the output gradient along the axis.
std::vector<Var> grad_concatenate(const GradArgs& a) {
  const std::int64_t axis = a.attrs().get_int("axis");
  Dims sizes;
  for (const Var& part : a.node.inputs()) {
    const std::int64_t d = part.static_shape()[axis];
    sizes.push_back(d == unknown_dim ? Dim(part.shape(axis, a.loc())) : Dim(d));
  }
  return split(a.grad(), sizes, axis, a.loc());
}

}  // namespace

namespace ops {

// reshape(x, d0, d1, ...): numpy reshape; a constant -1 size is inferred.
const OpDef& reshape_op() {
  static const OpDef def{.name = "reshape",
                         .family = OpFamily::Shape,
                         .min_inputs = 1,
                         .max_inputs = -1,
                         .infer = infer_reshape,
                         .eval = eval_reshape,
                         .grad = grad_reshape,
                         .view = true,
                         .on_device = any_device};
  return def;
}

// dimshuffle(x; pattern): Theano's axis permutation with -1 for new broadcastable axes.
const OpDef& dimshuffle_op() {
  static const OpDef def{.name = "dimshuffle",
                         .family = OpFamily::Shape,
                         .min_inputs = 1,
                         .max_inputs = 1,
                         .infer = infer_dimshuffle,
                         .eval = eval_dimshuffle,
                         .grad = grad_dimshuffle,
                         .view = true,
                         .on_device = any_device};
  return def;
}

// broadcast_to(x, d0, d1, ...): x's dims align right; only static-1 dims stretch.
const OpDef& broadcast_to_op() {
  static const OpDef def{.name = "broadcast_to",
                         .family = OpFamily::Shape,
                         .min_inputs = 1,
                         .max_inputs = -1,
                         .infer = infer_broadcast_to,
                         .eval = eval_broadcast_to,
                         .grad = grad_broadcast_to,
                         .view = true,
                         .on_device = any_device};
  return def;
}

// concatenate(parts...; axis): parts of one dtype and rank that agree off the axis.
const OpDef& concatenate_op() {
  static const OpDef def{.name = "concatenate",
                         .family = OpFamily::Shape,
                         .min_inputs = 1,
                         .max_inputs = -1,
                         .infer = infer_concatenate,
                         .eval = eval_concatenate,
                         .grad = grad_concatenate,
                         .on_device = any_device};
  return def;
}

// shape_of(x; axis): the run-time size of one dimension, an int64 scalar.
const OpDef& shape_of_op() {
  static const OpDef def{
      .name = "shape_of",
      .family = OpFamily::Shape,
      .min_inputs = 1,
      .max_inputs = 1,
      .infer = [](const InferArgs& a) {
        const std::int64_t axis = a.attrs.get_int("axis");
        if (axis < 0 || axis >= a.input(0).rank())
          a.fail(fmt::format("axis {} is out of range for {}", axis, a.input(0).str()));
        return std::vector<TensorType>{{DType::Int64, {}}};
      },
      .eval = [](const EvalArgs& a) {
        const Array& x = a.inputs[0];
        return std::vector<Array>{
            Array::scalar<std::int64_t>(x.shape()[a.attrs().get_int("axis")])};
      },
      // No .grad: the int64 output never receives a gradient.
      .on_device = any_device,
  };
  return def;
}

// make_vector(s0, s1, ...): integer scalars -> an int64 vector.
const OpDef& make_vector_op() {
  static const OpDef def{
      .name = "make_vector",
      .family = OpFamily::Shape,
      .min_inputs = 0,
      .max_inputs = -1,
      .infer = [](const InferArgs& a) {
        for (int i = 0; i < a.num_inputs(); ++i)
          if (!is_integer(a.input(i).dtype) || a.input(i).rank() != 0)
            a.fail(fmt::format("element {} must be an integer scalar, got {}", i,
                               a.input(i).str()));
        return std::vector<TensorType>{{DType::Int64, {a.num_inputs()}}};
      },
      .eval = [](const EvalArgs& a) {
        std::vector<std::int64_t> values;
        for (const Array& v : a.inputs) values.push_back(v.item<std::int64_t>());
        return std::vector<Array>{
            Array::from_vector(values, {static_cast<std::int64_t>(values.size())})};
      },
      // No .grad: the int64 output never receives a gradient.
      .on_device = any_device,
  };
  return def;
}

}  // namespace ops
}  // namespace cgvm
