#pragma once
// Specialize: matrix products with their scale and addend become one BLAS call, and products
// that share their left operand one larger product.
//
//   k*dot(a,b) + c -> gemm(a, b, c, k, 1)     (k a scalar constant, 1 when absent)
//   k*dot(a,b) - c -> gemm(a, b, c, k, -1)
//   c - k*dot(a,b) -> gemm(a, b, c, -k, 1)
//   k*dot(a,b)     -> gemm(a, b, 0, k, 0)     (and -dot(a,b), k = -1)
//
// for float matrices a and b (gemm: symbolic/ops/contraction.cpp). A gemm takes one addend:
// gemm(a,b,c) + d stays an add. The addend must stretch to the product's shape without
// making it larger (a bias row, a column, a matrix, a scalar), and a product (or the scaled
// product) that other nodes also read is left alone: folding it would compute the product
// twice. A scale of 0 stays a multiply (0 * inf must stay NaN).
// The gemm is built at the product's source line, so a mismatch of its operands is reported
// where the user wrote the product.
//
// No rule is needed for the rest of what BLAS can do: matmul and gemm read a transposed
// operand (a dimshuffle, which fusion leaves as a view) with BLAS's transpose flag, and a
// matrix @ vector product calls gemv.
//
// A column times a row (inner size 1) is the broadcast a * b, one loop that fuses.
//
// Horizontal merge: dot(x, W1), dot(x, W2), ... with one left operand x -> one
// dot(x, concatenate(W1, W2, ..., axis 1)) whose column ranges (views) are the products: an
// LSTM's four gate products become one larger product. Only for at least two weights that
// are inputs or constants with static sizes and one row count (constants are joined once, by
// folding), and an x that is not statically one row. Shared variables have no static sizes
// (set_value may change them), so weights held in them are not merged. A merged product takes
// no addend: the fused kernels that read its column ranges add their biases.
//
// Runs once, after canonicalize: the + and * chains it reads are canonical (constants first),
// and nothing after it but fusion needs to see the adds it removes.
#include <vector>

#include "optimizer/rewrite.hpp"

namespace cgvm {

std::vector<Rule> specialize_rules();

}  // namespace cgvm
