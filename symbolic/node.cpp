#include "symbolic/node.hpp"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "symbolic/op_def.hpp"

namespace cgvm {
namespace {

// The hash-consing table: node hash -> live nodes with that hash. Entries are weak: a node
// removes itself when its last handle goes (see the deleter in make_node).
struct NodeTable {
  std::mutex mutex;
  std::unordered_multimap<std::size_t, std::weak_ptr<const Node>> nodes;
  std::size_t live = 0;
};

NodeTable& table() {
  static NodeTable* t = new NodeTable;  // never destroyed: nodes may outlive static teardown
  return *t;
}

std::atomic<std::uint64_t> next_id{1};

std::size_t node_hash(const OpDef& op, const std::vector<Var>& inputs, const Attrs& attrs) {
  std::size_t h = std::hash<const void*>()(&op);
  for (const Var& v : inputs) h = h * 1000003 ^ VarHash()(v);
  return h * 1000003 ^ attrs.hash();
}

bool same_inputs(const std::vector<Var>& a, const std::vector<Var>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!a[i].same(b[i])) return false;
  return true;
}

// Deleting a node releases its inputs, which may delete them in turn: done recursively, a
// long chain (x = x + 1, 100,000 times) overflows the stack. The outermost deletion on a
// thread drains a queue; deletions it triggers only join that queue.
void delete_iteratively(const Node* node) {
  thread_local std::vector<const Node*>* pending = nullptr;
  if (pending) {
    pending->push_back(node);
    return;
  }
  std::vector<const Node*> queue{node};
  pending = &queue;
  while (!queue.empty()) {
    const Node* next = queue.back();
    queue.pop_back();
    delete next;
  }
  pending = nullptr;
}

}  // namespace

const TensorType& Var::type() const {
  CGVM_ASSERT(node_, "type() of a null Var");
  return node_->output_types()[index_];
}

std::string Var::name() const {
  if (!node_ || !node_->attrs().has("name")) return {};
  return node_->attrs().get_string("name");
}

Node::Node(const OpDef& op, std::vector<Var> inputs, Attrs attrs, std::vector<TensorType> types,
           std::source_location loc, std::size_t hash, std::uint64_t id)
    : op_(&op),
      inputs_(std::move(inputs)),
      attrs_(std::move(attrs)),
      types_(std::move(types)),
      loc_(loc),
      hash_(hash),
      id_(id) {}

Var Node::output(int i) const {
  CGVM_ASSERT(i >= 0 && i < num_outputs(), "output index out of range");
  return Var(shared_from_this(), i);
}

NodePtr make_node(const OpDef& op, std::vector<Var> inputs, Attrs attrs,
                  std::source_location loc) {
  int n = static_cast<int>(inputs.size());
  if (n < op.min_inputs || (op.max_inputs >= 0 && n > op.max_inputs))
    throw_error(op.name,
                fmt::format("takes {} to {} inputs, got {}", op.min_inputs,
                            op.max_inputs < 0 ? std::string("any") : std::to_string(op.max_inputs),
                            n),
                loc);
  for (const Var& v : inputs)
    if (v.is_null()) throw_error(op.name, "an input is a null Var (default-constructed)", loc);

  std::size_t h = node_hash(op, inputs, attrs);
  NodeTable& t = table();
  {
    std::lock_guard lock(t.mutex);
    auto [lo, hi] = t.nodes.equal_range(h);
    for (auto it = lo; it != hi; ++it)
      if (NodePtr found = it->second.lock())
        if (&found->op() == &op && same_inputs(found->inputs(), inputs) &&
            found->attrs() == attrs)
          return found;
  }

  // Inference runs outside the lock: it may build constants (make_node again).
  std::vector<TensorType> types = op.infer(InferArgs{op, inputs, attrs, loc});
  CGVM_ASSERT(!types.empty(), fmt::format("op {} inferred no outputs", op.name));

  auto* raw = new Node(op, std::move(inputs), std::move(attrs), std::move(types), loc, h,
                       next_id++);
  NodePtr found;
  {
    std::lock_guard lock(t.mutex);
    // Another thread may have built the same node meanwhile; the first one wins.
    auto [lo, hi] = t.nodes.equal_range(h);
    for (auto it = lo; it != hi && !found; ++it)
      if (NodePtr other = it->second.lock())
        if (&other->op() == &op && same_inputs(other->inputs(), raw->inputs()) &&
            other->attrs() == raw->attrs())
          found = other;
    if (!found) {
      NodePtr node(raw, [h](const Node* p) {
        {
          NodeTable& t = table();
          std::lock_guard lock(t.mutex);
          auto [lo, hi] = t.nodes.equal_range(h);
          for (auto it = lo; it != hi; ++it)
            if (it->second.expired()) {
              // Entries of other dead nodes may share the hash: each deletion removes one.
              t.nodes.erase(it);
              break;
            }
          --t.live;
        }
        delete_iteratively(p);  // outside the lock: releasing inputs may delete more nodes
      });
      t.nodes.emplace(h, node);
      ++t.live;
      return node;
    }
  }
  delete_iteratively(raw);  // outside the lock, for the same reason
  return found;
}

Var apply(const OpDef& op, std::vector<Var> inputs, Attrs attrs, std::source_location loc) {
  return make_node(op, std::move(inputs), std::move(attrs), loc)->output(0);
}

std::size_t live_node_count() {
  std::lock_guard lock(table().mutex);
  return table().live;
}

}  // namespace cgvm
