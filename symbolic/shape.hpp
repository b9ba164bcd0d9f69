#pragma once
// Shape ops: reshape, dimshuffle/transpose, broadcasting, joining and splitting, symbolic
// shapes. dimshuffle, transpose, expand_dims, squeeze and broadcast_to are views (index
// arithmetic in compiled code), never copies.
#include <source_location>
#include <vector>

#include "symbolic/args.hpp"

namespace cgvm {

// numpy reshape; one dimension may be -1. Dims may be symbolic (x.shape(0)).
Var reshape(const Var& x, const Dims& shape,
            std::source_location loc = std::source_location::current());
// Theano's flatten(ndim): keeps the first ndim-1 dimensions, joins the rest.
Var flatten(const Var& x, int ndim = 1,
            std::source_location loc = std::source_location::current());
// Theano's dimshuffle: pattern lists input axes in output order; -1 inserts a broadcastable
// axis (Theano's 'x'); an input axis left out must be broadcastable (static size 1).
Var dimshuffle(const Var& x, const std::vector<std::int64_t>& pattern,
               std::source_location loc = std::source_location::current());
// numpy transpose; an empty perm reverses the axes.
Var transpose(const Var& x, const std::vector<std::int64_t>& perm = {},
              std::source_location loc = std::source_location::current());
Var expand_dims(const Var& x, std::int64_t axis,
                std::source_location loc = std::source_location::current());
// Removes the given axes (each must have static size 1), or all broadcastable axes.
Var squeeze(const Var& x, const Axes& axes = {},
            std::source_location loc = std::source_location::current());
// numpy broadcast_to; also how zeros/ones/full of a symbolic shape are made.
Var broadcast_to(const Var& x, const Dims& shape,
                 std::source_location loc = std::source_location::current());
Var zeros(const Dims& shape, DType dtype = default_float,
          std::source_location loc = std::source_location::current());
Var ones(const Dims& shape, DType dtype = default_float,
         std::source_location loc = std::source_location::current());
Var full(const Dims& shape, double value, DType dtype = default_float,
         std::source_location loc = std::source_location::current());
Var zeros_like(const Var& x, std::source_location loc = std::source_location::current());
Var ones_like(const Var& x, std::source_location loc = std::source_location::current());

// Joining and splitting. All parts must have the same dtype after promotion and agree on
// every other dimension.
Var concatenate(const std::vector<Var>& parts, std::int64_t axis = 0,
                std::source_location loc = std::source_location::current());
Var stack(const std::vector<Var>& parts, std::int64_t axis = 0,
          std::source_location loc = std::source_location::current());
// Splits into pieces of the given sizes along `axis` (sizes must add up to the dimension).
std::vector<Var> split(const Var& x, const std::vector<Dim>& sizes, std::int64_t axis = 0,
                       std::source_location loc = std::source_location::current());
// numpy repeat (each element `repeats` times along `axis`) and tile.
Var repeat(const Var& x, std::int64_t repeats, std::int64_t axis,
           std::source_location loc = std::source_location::current());
Var tile(const Var& x, const std::vector<std::int64_t>& reps,
         std::source_location loc = std::source_location::current());

// x's sizes as a shape argument: static where known, x.shape(i) otherwise, so a shape built
// from them (by a gradient, say) stays symbolic exactly where x's is.
Dims dims_of(const Var& x, std::source_location loc = std::source_location::current());

// The shape as an int64 vector (shape(x)[i] works, and folds when the size is static).
Var shape(const Var& x, std::source_location loc = std::source_location::current());
// An int64 vector built from scalars (static or symbolic), e.g. for reshape.
Var make_vector(const Dims& dims, std::source_location loc = std::source_location::current());

}  // namespace cgvm
