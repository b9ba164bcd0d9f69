// Reading graph text (the format is documented in symbolic/serialize.hpp; the writer is
// symbolic/serialize.cpp, which this file mirrors value kind by value kind). Hand-written
// recursive descent over one line at a time, with std::from_chars for numbers: no regex,
// no per-node allocation beyond the node itself.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "symbolic/op_list.hpp"
#include "symbolic/serialize.hpp"
#include "symbolic/source.hpp"

namespace cgvm {
namespace {

constexpr int first_node_line = 3;  // after the header and the leaves line

const OpDef* find_op(std::string_view name) {
  static const auto table = [] {
    std::unordered_map<std::string_view, const OpDef*> t;
    for (const OpDef* op : ops::all_ops()) t.emplace(op->name, op);
    return t;
  }();
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Types in messages are spelled as in the text, so that they can be searched for there.
std::string type_text(const TensorType& t) {
  std::string dims;
  for (std::int64_t d : t.shape)
    dims += (dims.empty() ? "" : ",") + (d == unknown_dim ? "?" : std::to_string(d));
  return fmt::format("{}[{}]", dtype_name(t.dtype), dims);
}

std::string types_text(const std::vector<TensorType>& types) {
  std::string s;
  for (const TensorType& t : types) s += (s.empty() ? "" : " ") + type_text(t);
  return s;
}

std::string describe_leaf(const Var& leaf) {
  if (leaf.is_null()) return "a null Var";
  if (is_input(leaf)) return "input:" + type_text(leaf.type());
  if (is_shared(leaf)) return "shared:" + type_text(leaf.type());
  return fmt::format("a {} node", leaf.node()->op().name);
}

// A recursive-descent reader over one line at a time (`rest_` is what is left of it).
class Reader {
 public:
  Reader(std::string_view text, std::span<const Var> leaves,
         std::span<const std::source_location> locations)
      : text_(text), leaves_(leaves), locations_(locations) {}

  ReadGraph read() {
    if (!next_line() || line_ != graph_format_header)
      fail(line_.starts_with("cgvm-graph ")
               ? fmt::format("unsupported format version (this build reads '{}')",
                             graph_format_header)
               : fmt::format("not a graph text (the first line should be '{}')",
                             graph_format_header));
    if (!next_line()) truncated("leaves");
    read_leaves();
    for (;;) {
      if (!next_line()) truncated("outputs");
      if (line_ == "outputs" || line_.starts_with("outputs ")) break;
      edge_begin_.push_back(edges_.size());
      read_node();
    }
    edge_begin_.push_back(edges_.size());
    ReadGraph graph;
    rest_.remove_prefix(std::strlen("outputs"));
    while (!rest_.empty()) {
      space();
      graph.outputs.push_back(ref());
    }
    if (!next_line()) truncated("end");
    if (line_ != "end") fail("expected the 'end' line");
    if (next_ < text_.size()) {
      next_line();
      fail("unexpected text after the 'end' line");
    }
    check_all_used();
    graph.nodes.reserve(nodes_.size());
    for (const NodePtr& node : nodes_) graph.nodes.push_back(node.get());
    return graph;
  }

 private:
  bool next_line() {
    if (next_ >= text_.size()) return false;
    std::size_t end = std::min(text_.find('\n', next_), text_.size());
    line_ = rest_ = text_.substr(next_, end - next_);
    next_ = end + 1;
    ++line_no_;
    return true;
  }

  [[noreturn]] void fail(const std::string& what) const {
    std::string_view shown = line_.substr(0, 80);
    throw Error(fmt::format("deserialize_graph: line {}: {} (in \"{}{}\")", line_no_, what, shown,
                            shown.size() < line_.size() ? "..." : ""));
  }
  [[noreturn]] void truncated(std::string_view missing) const {
    throw Error(
        fmt::format("deserialize_graph: the text is truncated: it ends after line {} "
                    "without the '{}' line",
                    line_no_, missing));
  }

  bool eat(std::string_view s) {
    if (!rest_.starts_with(s)) return false;
    rest_.remove_prefix(s.size());
    return true;
  }
  void expect(std::string_view s) {
    if (!eat(s)) fail(fmt::format("expected '{}' at \"{}\"", s, rest_.substr(0, 20)));
  }
  void space() { expect(" "); }

  std::string_view word() {
    std::size_t n = 0;
    while (n < rest_.size() &&
           (std::isalnum(static_cast<unsigned char>(rest_[n])) || rest_[n] == '_'))
      ++n;
    std::string_view w = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return w;
  }

  std::int64_t integer() {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), v);
    if (ec != std::errc{} || end == rest_.data())
      fail(fmt::format("expected an integer at \"{}\"", rest_.substr(0, 20)));
    rest_.remove_prefix(end - rest_.data());
    return v;
  }

  Shape dims(bool allow_unknown) {
    expect("[");
    Shape shape;
    if (eat("]")) return shape;
    do {
      if (allow_unknown && eat("?")) {
        shape.push_back(unknown_dim);
      } else {
        std::int64_t d = integer();
        if (d < 0) fail(fmt::format("negative dimension {}", d));
        shape.push_back(d);
      }
    } while (eat(","));
    expect("]");
    return shape;
  }

  DType dtype(std::string_view name) {
    DType d{};
    if (!parse_dtype(name, d)) fail(fmt::format("unknown dtype '{}'", name));
    return d;
  }
  TensorType type() {
    DType d = dtype(word());
    return TensorType{d, dims(true)};
  }

  // Records which earlier node each reference uses, for check_all_used.
  Var ref() {
    if (eat("%")) {
      std::int64_t k = integer(), j = eat(".") ? integer() : 0;
      if (k < 0 || k >= static_cast<std::int64_t>(nodes_.size()))
        fail(fmt::format("%{} does not name an earlier node", k));
      if (j < 0 || j >= nodes_[k]->num_outputs())
        fail(fmt::format("%{}.{}: node %{} has {} output(s)", k, j, k, nodes_[k]->num_outputs()));
      edges_.push_back(k);
      return nodes_[k]->output(static_cast<int>(j));
    }
    expect("leaf");
    std::int64_t n = integer();
    if (n < 0 || n >= static_cast<std::int64_t>(leaves_.size()))
      fail(fmt::format("leaf{} is out of range: the caller gave {} leaves", n, leaves_.size()));
    return leaves_[n];
  }

  void read_leaves() {
    if (word() != "leaves") fail("expected the 'leaves' line");
    std::size_t n = 0;
    for (; !rest_.empty(); ++n) {
      space();
      std::string_view kind = word();
      if (kind != "input" && kind != "shared") fail("a leaf is 'input:<type>' or 'shared:<type>'");
      expect(":");
      TensorType t = type();
      if (n >= leaves_.size()) continue;  // reported below, with both counts
      const Var& leaf = leaves_[n];
      bool same_kind = !leaf.is_null() && (kind == "input" ? is_input(leaf) : is_shared(leaf));
      if (!same_kind || leaf.type() != t)
        fail(fmt::format("leaf{} is {}:{} in the text, but the caller gave {}", n, kind,
                         type_text(t), describe_leaf(leaf)));
    }
    if (n != leaves_.size())
      fail(fmt::format("the text has {} leaves, the caller gave {}", n, leaves_.size()));
  }

  // Hex floats, inf, and NaN by its bits (see put_double).
  double real() {
    bool negative = eat("-");
    double v = 0;
    if (eat("inf")) {
      v = std::numeric_limits<double>::infinity();
    } else if (!negative && eat("nan:")) {
      std::uint64_t bits = 0;
      auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), bits, 16);
      if (ec != std::errc{} || end - rest_.data() != 16 || !std::isnan(std::bit_cast<double>(bits)))
        fail("expected the 16 hex digits of a NaN");
      rest_.remove_prefix(16);
      return std::bit_cast<double>(bits);
    } else {
      expect("0x");
      auto [end, ec] =
          std::from_chars(rest_.data(), rest_.data() + rest_.size(), v, std::chars_format::hex);
      if (ec != std::errc{} || end == rest_.data() || rest_[0] == '-')
        fail(fmt::format("bad hex float at \"{}\"", rest_.substr(0, 20)));
      rest_.remove_prefix(end - rest_.data());
    }
    return negative ? -v : v;
  }

  std::string string() {
    expect("\"");
    std::string s;
    for (;;) {
      if (rest_.empty()) fail("unterminated string");
      char c = rest_[0];
      rest_.remove_prefix(1);
      if (c == '"') return s;
      if (c != '\\') {
        s += c;
      } else if (eat("n")) {
        s += '\n';
      } else if (eat("\"") || eat("\\")) {
        s += rest_.data()[-1];
      } else if (eat("x") && rest_.size() >= 2 && nibble(rest_[0]) >= 0 && nibble(rest_[1]) >= 0) {
        s += static_cast<char>(nibble(rest_[0]) * 16 + nibble(rest_[1]));
        rest_.remove_prefix(2);
      } else {
        fail("bad escape in a string");
      }
    }
  }

  // The element count is checked against the hex digits present before anything is
  // allocated, so a corrupted shape cannot ask for a huge array.
  Array array(DType d) {
    Shape shape = dims(false);
    expect(":");
    std::size_t digits = std::min(rest_.find(' '), rest_.size());
    std::size_t bytes = dtype_size(d);
    for (std::int64_t n : shape)
      if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(n), &bytes) || bytes > digits)
        bytes = std::numeric_limits<std::size_t>::max() / 2;
    if (digits != 2 * bytes)
      fail(fmt::format("a {}{} array needs {} hex digits, the text has {}", dtype_name(d),
                       shape_str(shape), 2 * bytes, digits));
    Array a = Array::empty(shape, d);
    auto* p = static_cast<unsigned char*>(bytes ? a.raw_data() : nullptr);
    for (std::size_t i = 0; i < bytes; ++i) {
      int hi = nibble(rest_[2 * i]), lo = nibble(rest_[2 * i + 1]);
      if (hi < 0 || lo < 0 || (d == DType::Bool && (hi || lo > 1)))
        fail(fmt::format("bad byte '{}' in a {} array", rest_.substr(2 * i, 2), dtype_name(d)));
      p[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    rest_.remove_prefix(digits);
    return a;
  }

  AttrValue value() {
    if (rest_.empty()) fail("missing attribute value");
    std::string_view unsigned_part = rest_.substr(rest_[0] == '-' ? 1 : 0);
    if (unsigned_part.starts_with("0x") || unsigned_part.starts_with("inf") ||
        unsigned_part.starts_with("nan:"))
      return real();
    if (rest_[0] == '-' || std::isdigit(static_cast<unsigned char>(rest_[0])))
      return AttrValue(std::in_place_type<std::int64_t>, integer());
    if (rest_[0] == '"') return string();
    if (eat("[")) {
      Ints ints;
      if (!eat("]")) {
        do ints.push_back(integer());
        while (eat(","));
        expect("]");
      }
      return ints;
    }
    std::string_view w = word();
    if (w == "true" || w == "false") return AttrValue(std::in_place_type<bool>, w == "true");
    DType d = dtype(w);
    if (rest_.starts_with("[")) return array(d);
    return d;
  }

  void read_node() {
    std::string_view name = word();
    const OpDef* op = find_op(name);
    if (!op) fail(fmt::format("unknown op '{}'", name));
    if (op == &ops::input_op() || op == &ops::shared_op())
      fail(fmt::format("op '{}' cannot be a node line: it is a leaf", name));
    std::vector<Var> inputs;
    Attrs attrs;
    for (;;) {
      if (rest_.empty()) fail("the line ends before '->' and the output types");
      space();
      if (eat("->")) break;
      if (rest_.starts_with("%") || rest_.starts_with("leaf")) {
        if (!attrs.empty()) fail("an input after the attributes");
        inputs.push_back(ref());
        continue;
      }
      std::string key(word());
      if (key.empty())
        fail(fmt::format("expected an input, an attribute or '->' at \"{}\"", rest_.substr(0, 20)));
      if (attrs.has(key)) fail(fmt::format("attribute '{}' given twice", key));
      expect("=");
      attrs.set(std::move(key), value());
    }
    std::vector<TensorType> types;
    std::source_location loc{};
    while (!rest_.empty()) {
      space();
      if (!eat("@")) {
        types.push_back(type());
        continue;
      }
      std::int64_t k = integer();
      if (!rest_.empty()) fail("unexpected text after the location");
      if (k < -1 || k >= static_cast<std::int64_t>(locations_.size()))
        fail(fmt::format("location @{} is out of range: the caller gave {} locations", k,
                         locations_.size()));
      if (k >= 0) loc = locations_[k];
    }
    if (types.empty()) fail("no output types after '->'");
    NodePtr node;
    try {
      node = make_node(*op, std::move(inputs), std::move(attrs), loc);
    } catch (const std::exception& e) {
      fail(fmt::format("{} rejects its inputs or attributes: {}", name, e.what()));
    }
    if (node->output_types() != types)
      fail(fmt::format("the text says {} gives {}, but it infers {}", name, types_text(types),
                       types_text(node->output_types())));
    nodes_.push_back(std::move(node));
  }

  // The writer only writes nodes an output depends on; an unused node means a reference
  // was corrupted (and would otherwise point at another node of the same type unnoticed).
  void check_all_used() const {
    std::vector<char> used(nodes_.size(), 0);
    for (std::size_t e = edge_begin_.back(); e < edges_.size(); ++e) used[edges_[e]] = 1;
    for (std::size_t k = nodes_.size(); k-- > 0;) {
      if (!used[k])
        throw Error(
            fmt::format("deserialize_graph: line {}: node %{} is not used by any output "
                        "(a corrupted reference?)",
                        k + first_node_line, k));
      for (std::size_t e = edge_begin_[k]; e < edge_begin_[k + 1]; ++e) used[edges_[e]] = 1;
    }
  }

  std::string_view text_, line_, rest_;
  std::size_t next_ = 0;
  int line_no_ = 0;
  std::span<const Var> leaves_;
  std::span<const std::source_location> locations_;
  std::vector<NodePtr> nodes_;
  std::vector<std::int64_t> edges_;      // node indices referenced, line by line
  std::vector<std::size_t> edge_begin_;  // node k's references start at edges_[edge_begin_[k]]
};

}  // namespace

ReadGraph deserialize_graph(std::string_view text, std::span<const Var> leaves,
                            std::span<const std::source_location> locations) {
  return Reader(text, leaves, locations).read();
}

}  // namespace cgvm
