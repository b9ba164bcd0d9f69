// Writing graph text (the format is documented in symbolic/serialize.hpp; the reader is
// symbolic/deserialize.cpp, which mirrors this file value kind by value kind). Numbers go
// through std::to_chars: exact and locale-free.
#include "symbolic/serialize.hpp"

#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "symbolic/graph.hpp"
#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool is_leaf_op(const OpDef& op) { return &op == &ops::input_op() || &op == &ops::shared_op(); }

[[noreturn]] void cannot_write(const std::string& what) { throw Error("serialize_graph: " + what); }

std::string describe(const Node& node) {
  std::string name = node.output(0).name();
  return fmt::format("{}{} node created at {}", node.op().name,
                     name.empty() ? "" : " '" + name + "'", format_location(node.location()));
}

void put_int(std::string& out, std::int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

void put_dims(std::string& out, const Shape& shape) {
  out += '[';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ',';
    if (shape[i] == unknown_dim)
      out += '?';
    else
      put_int(out, shape[i]);
  }
  out += ']';
}

void put_type(std::string& out, const TensorType& t) {
  out += dtype_name(t.dtype);
  put_dims(out, t.shape);
}

void put_hex(std::string& out, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t at = out.size();
  out.resize(at + 2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out[at + 2 * i] = hex_digits[p[i] >> 4];
    out[at + 2 * i + 1] = hex_digits[p[i] & 15];
  }
}

// Hex floats are exact in both directions; NaN goes by its bits to keep sign and payload
// (Attrs compare doubles bitwise, so a different NaN would be a different node).
void put_double(std::string& out, double v) {
  if (std::isnan(v)) {
    auto bits = std::bit_cast<std::uint64_t>(v);
    char buf[16];
    for (int i = 15; i >= 0; --i, bits >>= 4) buf[i] = hex_digits[bits & 15];
    out += "nan:";
    out.append(buf, sizeof buf);
    return;
  }
  if (std::signbit(v)) out += '-';
  v = std::fabs(v);
  if (std::isinf(v)) {
    out += "inf";
    return;
  }
  char buf[40];
  out += "0x";
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::hex).ptr);
}

// Escapes keep every string on its line.
void put_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += hex_digits[u >> 4];
      out += hex_digits[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

void put_array(std::string& out, const Array& a) {
  out += dtype_name(a.dtype());
  put_dims(out, a.shape());
  out += ':';
  Array c = a.contiguous();
  if (c.nbytes() > 0) put_hex(out, c.raw_data(), c.nbytes());
}

// A name the reader can tell from an input reference (`leaf3`) and from the value.
bool valid_attr_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return !(name.starts_with("leaf") && name.size() > 4 && std::isdigit(name[4]));
}

void put_value(std::string& out, const Node& node, const std::string& name,
               const AttrValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::int64_t>)
          put_int(out, v);
        else if constexpr (std::is_same_v<T, double>)
          put_double(out, v);
        else if constexpr (std::is_same_v<T, bool>)
          out += v ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>)
          put_string(out, v);
        else if constexpr (std::is_same_v<T, DType>)
          out += dtype_name(v);
        else if constexpr (std::is_same_v<T, Ints>) {
          out += '[';
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) out += ',';
            put_int(out, v[i]);
          }
          out += ']';
        } else if constexpr (std::is_same_v<T, Array>)
          put_array(out, v);
        else if constexpr (std::is_same_v<T, std::shared_ptr<SharedState>>)
          cannot_write(
              fmt::format("attribute '{}' of the {} holds a shared variable's state, "
                          "which has no text form (only shared leaves may hold one)",
                          name, describe(node)));
        else
          cannot_write(fmt::format("attribute '{}' of the {} holds a loop body, which has no "
                                   "text form yet",
                                   name, describe(node)));
      },
      value);
}

// Locations compare by content: the same call site may have several copies of its strings.
// The hash leaves the strings out (equal sites usually share them, and hashing 10,000 file
// names would cost more than the rest of the writing); a line and column met in two files
// only lengthens a bucket.
struct LocationHash {
  std::size_t operator()(const std::source_location* l) const {
    return (std::size_t{l->line()} << 16) ^ l->column();
  }
};
bool same_text(const char* a, const char* b) { return a == b || std::strcmp(a, b) == 0; }
struct LocationEq {
  bool operator()(const std::source_location* a, const std::source_location* b) const {
    return a->line() == b->line() && a->column() == b->column() &&
           same_text(a->file_name(), b->file_name()) &&
           same_text(a->function_name(), b->function_name());
  }
};

}  // namespace

std::vector<std::source_location> graph_locations(std::span<const Var> outputs) {
  std::vector<std::source_location> locations;
  for (const Node* node : topo_sort(outputs)) locations.push_back(node->location());
  return locations;
}

std::string serialize_graph(std::span<const Var> outputs, std::span<const Var> leaves,
                            std::span<const std::source_location> locations,
                            const SerializeOptions& options, std::vector<const Node*>* order) {
  std::string out(graph_format_header);
  out += "\nleaves";
  std::unordered_map<const Node*, std::int64_t> leaf_index;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const Var& leaf = leaves[i];
    if (leaf.is_null() || !is_leaf_op(leaf.node()->op()))
      cannot_write(fmt::format("leaf {} is not a symbolic input or shared variable ({})", i,
                               leaf.is_null() ? "a null Var" : describe(*leaf.node())));
    leaf_index.emplace(leaf.node().get(), static_cast<std::int64_t>(i));  // first one wins
    out += is_input(leaf) ? " input:" : " shared:";
    put_type(out, leaf.type());
  }
  out += '\n';
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].is_null()) cannot_write(fmt::format("output {} is a null Var", i));

  std::unordered_map<const std::source_location*, std::int64_t, LocationHash, LocationEq>
      location_index;
  if (options.with_locations) {
    location_index.reserve(locations.size());
    for (std::size_t k = 0; k < locations.size(); ++k)
      location_index.emplace(&locations[k], static_cast<std::int64_t>(k));  // first one wins
  }

  std::vector<const Node*> written;
  std::unordered_map<const Node*, std::int64_t> node_index;
  auto put_ref = [&](const Var& v) {
    const Node* node = v.node().get();
    if (auto it = leaf_index.find(node); it != leaf_index.end()) {
      out += "leaf";
      put_int(out, it->second);
      return;
    }
    out += '%';
    put_int(out, node_index.at(node));
    if (v.index() != 0) {
      out += '.';
      put_int(out, v.index());
    }
  };

  std::vector<const Node*> sorted = topo_sort(outputs);
  node_index.reserve(sorted.size());
  out.reserve(out.size() + 48 * sorted.size());
  for (const Node* node : sorted) {
    if (leaf_index.count(node)) continue;
    if (is_leaf_op(node->op()))
      cannot_write(fmt::format("the {} of type {} is not among the leaves", describe(*node),
                               node->output_types()[0].str()));
    node_index.emplace(node, static_cast<std::int64_t>(written.size()));
    written.push_back(node);

    out += node->op().name;
    for (const Var& in : node->inputs()) {
      out += ' ';
      put_ref(in);
    }
    for (const auto& [name, value] : node->attrs().items()) {
      if (!valid_attr_name(name))
        cannot_write(fmt::format("attribute name '{}' of the {} is not a plain identifier", name,
                                 describe(*node)));
      out += ' ';
      out += name;
      out += '=';
      put_value(out, *node, name, value);
    }
    out += " ->";
    for (const TensorType& t : node->output_types()) {
      out += ' ';
      put_type(out, t);
    }
    if (options.with_locations) {
      auto it = location_index.find(&node->location());
      out += " @";
      put_int(out, it == location_index.end() ? -1 : it->second);
    }
    out += '\n';
  }
  out += "outputs";
  for (const Var& v : outputs) {
    out += ' ';
    put_ref(v);
  }
  out += "\nend\n";
  if (order) *order = std::move(written);
  return out;
}

}  // namespace cgvm
