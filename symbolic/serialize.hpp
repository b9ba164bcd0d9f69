#pragma once
// Graphs as text, for the compile cache: the text of an input graph (without locations) is
// the cache key, and the text of the optimized graph is the cached value, read back into
// real nodes by a later process so that a warm start skips the optimizer.
//
// Format (version 1), one item per line, every line ending in '\n':
//
//   cgvm-graph 1
//   leaves input:float32[?,3] shared:int64[?]
//   constant value=float32[]:00000040 -> float32[] @1
//   mul leaf0 %0 -> float32[?,3] @1
//   constant value=int64[]:0200000000000000 -> int64[] @4
//   constant value=int64[]:0300000000000000 -> int64[] @4
//   random_uniform leaf1 %2 %3 low=0x0p+0 high=0x1p+0 dtype=float32 -> int64[?] float32[2,3] @4
//   add %1 %4.1 -> float32[2,3] @7
//   sum %5 axes=[1] keepdims=true -> float32[2,1] @8
//   outputs %6 %4
//   end
//
// (sum(x * 2 + rng.uniform({2, 3}), {1}, true) and the draw's next state; the key text is
// the same without the `@k`.)
//
// Node lines are numbered from 0 in text order (node k is on text line k + 3); `%k` is
// output 0 of node k, `%k.j` its output j, `leafN` the caller's leaves[N]. A node line is
// the op name, its inputs, its attributes in the node's own order, `->`, its output types
// and, when written, `@k`: its location as an index into the caller's locations (-1: none).
// Attribute values: int64 `-3`; double as exact hex float `0x1.8p+1`, `-0x0p+0`, `inf`,
// `-inf`, NaN by its bits `nan:7ff8000000000000`; bool `true`; string `"a\"b\\c\n"`
// (control bytes as \xHH); dtype `float64`; ints `[0,-1]`; array `int32[2]:01000000ff..`
// (dims, then the bytes of a contiguous copy in hex, in this machine's byte order: the
// cache is local). The final `end` line makes every truncation detectable.
//
// The text depends only on the graph's structure (topo_sort is deterministic): the same
// graph built twice, in different processes with different node ids and addresses, gives
// byte-identical text.
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "symbolic/node.hpp"

namespace cgvm {

// The first line of every graph text; a format change must change it (the cache key then
// changes with it, so old entries are simply never found).
inline constexpr std::string_view graph_format_header = "cgvm-graph 1";

// Leaves are the nodes a serialized graph refers to instead of writing them out: symbolic
// inputs (op "input") and shared variables (op "shared"), identified by their position in
// a `leaves` list the caller supplies on both sides (e.g. the function's inputs, then its
// shared variables in a fixed order). Leaf kinds and types are written in the `leaves`
// line, so the key changes with the function's signature and a mismatch on reading is
// caught.
//
// Locations are written as indices into a caller-supplied list rather than as file names
// and lines: that keeps them out of the key and gives read-back nodes the *current*
// program's lines. The list is graph_locations() of the input graph, on both sides; since
// an equal key means an equal input graph, index k names the same node in both processes.

// One location per node of the graph (leaves included), in topo_sort order. Per node
// rather than distinct: two processes whose input graphs have equal keys get lists of the
// same length even when one of them built two nodes on one line and the other did not.
std::vector<std::source_location> graph_locations(std::span<const Var> outputs);

struct SerializeOptions {
  bool with_locations = true;  // false for the cache key text
};

// The text of the graph computing `outputs`. A node's location is written as the first
// index in `locations` equal to it (same file, line, column and function), or -1.
// `order`, when given, receives the written nodes in text order (node k of the text is
// (*order)[k]), so the caller can attach per-node data (e.g. a node's fused kernel) by
// position and find it again in ReadGraph::nodes.
// Throws cgvm::Error, saying what cannot be written, when the graph has no text form: an
// input or shared variable that is not among the leaves, a leaf that is neither, an
// attribute holding a shared variable's state outside a shared leaf, a null output.
std::string serialize_graph(std::span<const Var> outputs, std::span<const Var> leaves,
                            std::span<const std::source_location> locations,
                            const SerializeOptions& options = {},
                            std::vector<const Node*>* order = nullptr);

struct ReadGraph {
  std::vector<Var> outputs;
  std::vector<const Node*> nodes;  // one per node line, in text order; kept alive by outputs
};

// Rebuilds the graph with make_node, so type inference runs and hash-consing applies: a
// node that is still alive in this process comes back as the same object (with its own
// location). Any problem -- bad syntax, an unknown op, a leaf index out of range, leaves
// whose number, kind or type differ from the text, an inferred output type other than the
// written one, a location index outside `locations`, a node no output uses (what a
// corrupted reference leaves behind), truncated text -- throws cgvm::Error
// with a message naming the line; the caller should treat that cache entry as corrupt.
// Text without `@k` (a key) gives nodes a default std::source_location.
ReadGraph deserialize_graph(std::string_view text, std::span<const Var> leaves,
                            std::span<const std::source_location> locations);

}  // namespace cgvm
