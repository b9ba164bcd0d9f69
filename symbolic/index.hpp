#pragma once
// Indexing, numpy style. Basic indexing (integers, slices with negative bounds and steps,
// newaxis) gives a view; one integer tensor of rank >= 1 in the index is an advanced index
// (a gather along its axis, e.g. an embedding lookup).
#include <source_location>
#include <vector>

#include "symbolic/args.hpp"

namespace cgvm {

// x[index...]. Static integer indices are checked against static sizes when the graph is
// built; symbolic ones and unknown sizes at run time. Too many indices, a slice step of 0,
// a float index, two advanced indices or a bool (mask) index are Errors. With an advanced
// index the basic part applies first and take() gathers along the resulting axis; the index
// dims replace that axis, except (numpy's rule, integers counting as advanced indices) when
// a slice or newaxis separates an integer index from the tensor index: then they go first.
Var subtensor(const Var& x, const std::vector<Index>& index,
              std::source_location loc = std::source_location::current());

// Theano's set_subtensor(x[idx], y) / inc_subtensor(x[idx], y): `indexed` must be an
// indexing expression built by subtensor/take; the result is a copy of its base with those
// elements replaced by (or incremented by) y, broadcast to their shape. With an advanced
// index, repeated indices are all applied: inc adds each, set keeps the last. y is cast to
// the base's dtype (Theano's rule). A take whose input is a subtensor (x(slice(1, 3), idx))
// writes through that view into x, as numpy's x[1:3, idx] = y does. The front-moved case
// above (x(0, slice(), idx)) is not an indexing expression here: index in two steps.
Var set_subtensor(const Var& indexed, const Var& y,
                  std::source_location loc = std::source_location::current());
Var inc_subtensor(const Var& indexed, const Var& y,
                  std::source_location loc = std::source_location::current());

// numpy.take(x, indices, axis): gathers along `axis`; the result's shape is x.shape with
// that axis replaced by indices.shape. Out-of-range indices are a run-time Error; negative
// indices count from the end.
Var take(const Var& x, const Var& indices, std::int64_t axis = 0,
         std::source_location loc = std::source_location::current());

// one_hot(indices, depth): a tensor of indices.shape + [depth], 1 where the last index equals
// the value. depth may be symbolic (e.g. probs.shape(-1)).
Var one_hot(const Var& indices, const Dim& depth, DType dtype = default_float,
            std::source_location loc = std::source_location::current());

// numpy arange with static or symbolic bounds (int64 unless dtype says otherwise).
Var arange(const Dim& stop, DType dtype = DType::Int64,
           std::source_location loc = std::source_location::current());
Var arange(const Dim& start, const Dim& stop, const Dim& step = 1, DType dtype = DType::Int64,
           std::source_location loc = std::source_location::current());

}  // namespace cgvm
