#pragma once
// Join slice updates: copies of one zero tensor Z, each with a slice of one axis written,
// become the concatenation of what was written, padded with Z's own zeros.
//
//   inc_subtensor(Z, a, [.., i:j]) + inc_subtensor(Z, b, [.., j:k]) -> concatenate(Z[.., :i], a, b, Z[.., k:])
//   inc_subtensor(Z, y, [.., i:k])                                  -> concatenate(Z[.., :i], y, Z[.., k:])
//
// (along the sliced axis; Z[.., :0] is left out, and so is Z[.., k:] where Z's size along the
// axis is statically k, so that slices covering Z give concatenate(a, b, ...) alone). An
// update copies all of Z and then adds into the slice; a sum of updates adds whole tensors
// again. This is the gradient of a value read in slices: an LSTM's four gates are the column
// ranges of one pre-activation, whose gradient grad() writes as four updates of zeros and
// their sum (4 copies, 4 accumulations and a 4-way add of the full pre-activation per step
// of BPTT); joined, it is one concatenate of the four gates' gradients. Where Z's size is
// known at run time only, the padding after the last slice is an empty view of Z.
//
// Only where nothing is lost or stretched: basic slices with static bounds and step 1, one
// axis sliced, the others whole, no index scalars; each written value of Z's dtype and rank,
// with the slice's length along the axis (or a length known at run time only, which the
// update checks against the region's: the concatenate then has Z's shape whenever the update
// runs), stretching along no other axis. "set" and "inc" alike (into zeros they are the same).
// Updates of one Z whose slices do not meet are joined into separate runs; the sum's other
// terms keep their order and the runs follow them. An update inside a + chain is left to the
// chain's root.
//
// Runs in canonicalize: the + chains it reads are canonical there, and the body of a scan
// (BPTT's step) goes through it too.
#include <vector>

#include "optimizer/rewrite.hpp"

namespace cgvm {

std::vector<Rule> join_slice_updates_rules();

}  // namespace cgvm
