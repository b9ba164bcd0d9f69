#include "symbolic/print.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <unordered_map>

#include "symbolic/graph.hpp"
#include "symbolic/op_def.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

// A, B, ..., Z, AA, AB, ...: short ids in the order nodes are first printed.
std::string letter_id(std::size_t n) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('A' + n % 26));
    n = n / 26;
  } while (n-- > 0);
  return s;
}

std::string short_location(const std::source_location& loc) {
  std::string_view file = loc.file_name();
  if (file.empty()) return {};
  auto slash = file.find_last_of('/');
  if (slash != std::string_view::npos) file.remove_prefix(slash + 1);
  return fmt::format("{}:{}", file, loc.line());
}

// The text of a node's head: op name with attributes, or the name/value of a source.
std::string head(const Var& v) {
  const Node& node = *v.node();
  std::string text;
  if (is_constant(v)) {
    const Array& value = *constant_value(v);
    text = value.size() <= 6 ? value.to_string() : "constant";
  } else if (is_input(v) || is_shared(v)) {
    text = v.name().empty() ? std::string(node.op().name) : v.name();
    if (is_shared(v)) text += " (shared)";
  } else {
    text = std::string(node.op().name);
    if (!node.attrs().empty()) text += "{" + node.attrs().str() + "}";
  }
  if (node.num_outputs() > 1) text += fmt::format(".{}", v.index());
  return text;
}

// Depth-first, iterative (graphs can be chains of 100,000 nodes). Indentation stops growing
// at max_indent levels, or a deep chain would print a quadratic amount of spaces; deeper
// lines say their depth instead.
struct Printer {
  static constexpr std::size_t max_indent = 64;
  std::unordered_map<const Node*, std::string> ids;
  std::string out;

  static std::string prefix(std::size_t depth) {
    if (depth == 0) return {};
    std::string p = " ";
    for (std::size_t i = 1; i < std::min(depth, max_indent); ++i) p += "| ";
    return p + "|";
  }

  void print(const Var& root) {
    std::vector<std::pair<Var, std::size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto [v, depth] = stack.back();
      stack.pop_back();
      const Node* node = v.node().get();
      auto [it, fresh] = ids.try_emplace(node, letter_id(ids.size()));
      out += prefix(depth);
      if (depth > max_indent) out += fmt::format("<depth {}> ", depth);
      out += head(v) + " [id " + it->second + "] " + v.type().str();
      bool source = node->inputs().empty();
      if (!source && fresh) {
        std::string where = short_location(node->location());
        if (!where.empty()) out += "   " + where;
      }
      out += "\n";
      if (!fresh) continue;  // printed above; refer to it by id
      for (auto in = node->inputs().rbegin(); in != node->inputs().rend(); ++in)
        stack.emplace_back(*in, depth + 1);
    }
  }
};

}  // namespace

std::string debugprint(std::span<const Var> outputs) {
  Printer p;
  for (const Var& v : outputs) {
    if (v.is_null()) {
      p.out += "<null>\n";
      continue;
    }
    p.print(v);
  }
  return p.out;
}

std::string debugprint(const Var& output) { return debugprint(std::span<const Var>(&output, 1)); }

std::string to_dot(std::span<const Var> outputs) {
  std::string out = "digraph cgvm {\n  rankdir=BT;\n  node [fontname=\"monospace\"];\n";
  std::unordered_map<const Node*, std::size_t> index;
  std::vector<const Node*> order = topo_sort(outputs);
  auto quote = [](std::string s) {
    std::string q;
    for (char c : s) {
      if (c == '"' || c == '\\') q += '\\';
      q += c == '\n' ? ' ' : c;
    }
    return q;
  };
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Node* node = order[i];
    index[node] = i;
    Var v = node->output(0);
    bool source = node->inputs().empty();
    std::string label = head(v);
    if (node->num_outputs() > 1) label = std::string(node->op().name);
    out += fmt::format("  n{} [label=\"{}\", shape={}];\n", i, quote(label),
                       source ? "ellipse" : "box");
  }
  for (const Node* node : order)
    for (const Var& in : node->inputs())
      out += fmt::format("  n{} -> n{} [label=\"{}\"];\n", index[in.node().get()], index[node],
                         quote(in.type().str()));
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (!outputs[i].is_null())
      out += fmt::format("  out{} [label=\"output {}\", shape=plaintext];\n  n{} -> out{};\n", i,
                         i, index[outputs[i].node().get()], i);
  return out + "}\n";
}

std::string describe(const Var& v) {
  if (v.is_null()) return "<null>";
  if (v.node()->inputs().empty()) return head(v);
  std::vector<std::string> args;
  for (const Var& in : v.node()->inputs())
    args.push_back(in.node()->inputs().empty() ? head(in) : std::string(in.node()->op().name) + "(...)");
  return fmt::format("{}({})", head(v), fmt::join(args, ", "));
}

std::ostream& operator<<(std::ostream& os, const Var& v) { return os << describe(v); }

}  // namespace cgvm
