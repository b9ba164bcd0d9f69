// Printing, following numpy.array2string(a, separator=", ") (numpy/core/arrayprint.py):
// the same float modes (positional or scientific, shortest round-trip digits up to 8),
// the same padding, 75-column line wrapping and "..." summaries. Reproducing numpy exactly
// lets tests and notebooks compare our output with numpy's text directly.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ostream>

#include "runtime/array.hpp"

namespace cgvm {

namespace {

constexpr std::int64_t summary_threshold = 1000;
constexpr std::int64_t edge_items = 3;
constexpr int precision = 8;
constexpr std::size_t line_width = 75;

// Indices shown along an axis of length n: all, or the edges when summarising.
std::vector<std::int64_t> shown_indices(std::int64_t n, bool summarise) {
  std::vector<std::int64_t> idx;
  if (summarise && n > 2 * edge_items) {
    for (std::int64_t i = 0; i < edge_items; ++i) idx.push_back(i);
    for (std::int64_t i = n - edge_items; i < n; ++i) idx.push_back(i);
  } else {
    for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

// The shown elements in row-major order; formatting widths depend only on these.
template <class T>
void gather(const Array& a, bool summarise, std::vector<T>& out) {
  if (a.rank() == 0) {
    out.push_back(*static_cast<const T*>(a.raw_data()));
    return;
  }
  for (std::int64_t i : shown_indices(a.shape()[0], summarise)) gather(a.index(0, i), summarise, out);
}

// Shortest round-trip digits of x, rounded to `precision` digits when longer.
template <class T>
std::string shortest(T x, std::chars_format format) {
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof buf, x, format);
  std::string s(buf, r.ptr);
  const std::size_t dot = s.find('.');
  const std::size_t end = format == std::chars_format::scientific ? s.find('e') : s.size();
  if (dot != std::string::npos && end - dot - 1 > static_cast<std::size_t>(precision)) {
    r = std::to_chars(buf, buf + sizeof buf, x, format, precision);
    s.assign(buf, r.ptr);
    const std::size_t e = format == std::chars_format::scientific ? s.find('e') : s.size();
    std::size_t keep = e;
    while (s[keep - 1] == '0') --keep;
    s.erase(keep, e - keep);
  }
  return s;
}

// A float split into numpy's parts: integer part (with sign), fraction digits, exponent.
struct FloatParts {
  std::string integer, fraction, exponent;  // exponent like "-05" (empty in positional)
};

template <class T>
FloatParts split_float(T x, bool scientific) {
  std::string s = shortest(x, scientific ? std::chars_format::scientific : std::chars_format::fixed);
  FloatParts p;
  if (scientific) {
    const std::size_t e = s.find('e');
    p.exponent = s.substr(e + 1);
    s.resize(e);
  }
  const std::size_t dot = s.find('.');
  p.integer = s.substr(0, dot);
  if (dot != std::string::npos) p.fraction = s.substr(dot + 1);
  return p;
}

template <class T>
std::vector<std::string> format_floats(const std::vector<T>& values) {
  std::vector<T> finite;
  for (T v : values)
    if (std::isfinite(v)) finite.push_back(v);
  bool scientific = false;
  T max_abs = 0, min_abs = std::numeric_limits<T>::infinity();
  for (T v : finite)
    if (v != 0) {
      max_abs = std::max(max_abs, std::fabs(v));
      min_abs = std::min(min_abs, std::fabs(v));
    }
  if (max_abs > 0)
    scientific = max_abs >= 1e8 || min_abs < 1e-4 || max_abs / min_abs > 1000.0;

  std::size_t pad_left = 0, pad_right = 0, exp_size = 0;
  for (T v : finite) {
    FloatParts p = split_float(v, scientific);
    pad_left = std::max(pad_left, p.integer.size());
    pad_right = std::max(pad_right, p.fraction.size());
    exp_size = std::max(exp_size, p.exponent.empty() ? 0 : p.exponent.size() - 1);
  }
  // In scientific mode every value shows the same number of digits; pad_right then spans
  // the whole right-hand side so non-finite values line up.
  const std::size_t digits = pad_right;
  if (scientific) pad_right = exp_size + 2 + digits;
  if (finite.size() != values.size()) {
    bool negative_inf = false;
    for (T v : values) negative_inf |= std::isinf(v) && v < 0;
    const std::size_t widest = std::max<std::size_t>(3, 3 + negative_inf);
    if (widest > pad_right + 1) pad_left = std::max(pad_left, widest - pad_right - 1);
  }

  std::vector<std::string> out;
  for (T v : values) {
    std::string s;
    if (!std::isfinite(v)) {
      s = std::isnan(v) ? "nan" : (v < 0 ? "-inf" : "inf");
      s.insert(0, pad_left + pad_right + 1 - std::min(s.size(), pad_left + pad_right + 1), ' ');
    } else {
      FloatParts p = split_float(v, scientific);
      if (scientific && p.fraction.size() < digits) {
        // Extra digits are the value's exact ones, not zeros (numpy's min_digits): they
        // differ for float32, whose exact expansion outruns its shortest form.
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific,
                               static_cast<int>(digits));
        const std::string exact(buf, r.ptr);
        const std::size_t dot = exact.find('.'), e = exact.find('e');
        p = {exact.substr(0, dot), exact.substr(dot + 1, e - dot - 1), exact.substr(e + 1)};
      }
      s.assign(pad_left - std::min(pad_left, p.integer.size()), ' ');
      s += p.integer + '.' + p.fraction;
      if (scientific) {
        const char sign = p.exponent[0];
        std::string exp_digits = p.exponent.substr(1);
        exp_digits.insert(0, exp_size - std::min(exp_size, exp_digits.size()), '0');
        s += fmt::format("e{}{}", sign, exp_digits);
      } else {
        s.append(pad_right - p.fraction.size(), ' ');
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

template <class T>
std::vector<std::string> format_values(const std::vector<T>& values) {
  std::vector<std::string> out;
  if constexpr (std::is_floating_point_v<T>) {
    return format_floats(values);
  } else if constexpr (std::is_same_v<T, bool>) {
    for (bool v : values) out.push_back(v ? " True" : "False");
  } else {
    std::size_t width = 0;
    for (T v : values) out.push_back(fmt::format("{}", static_cast<std::int64_t>(v)));
    for (auto& s : out) width = std::max(width, s.size());
    for (auto& s : out) s.insert(0, width - s.size(), ' ');
  }
  return out;
}

// numpy's _formatArray: lays out the formatted words (consumed in row-major order) with
// brackets, ", " separators, a hanging indent and wrapping at `line_width` columns.
class Layout {
 public:
  Layout(const Shape& shape, bool summarise, const std::vector<std::string>& words)
      : shape_(shape), summarise_(summarise), words_(words) {}

  std::string run() { return recurse(0, " ", line_width); }

 private:
  void extend_line(std::string& s, std::string& line, const std::string& word,
                   std::size_t width, const std::string& indent) {
    // Wrapping does not help when the line holds nothing but the indent.
    if (line.size() + word.size() > width && line.size() > indent.size()) {
      while (!line.empty() && line.back() == ' ') line.pop_back();
      s += line + "\n";
      line = indent;
    }
    line += word;
  }

  std::string recurse(std::size_t axis, const std::string& indent, std::size_t width) {
    if (axis == shape_.size()) return words_[next_++];
    const std::string next_indent = indent + " ";
    const std::size_t next_width = width - 1;
    const std::int64_t n = shape_[axis];
    const bool summary = summarise_ && n > 2 * edge_items;
    const std::int64_t leading = summary ? edge_items : n - 1;
    const std::int64_t trailing = summary ? edge_items - 1 : 0;
    std::string s;
    if (axis + 1 == shape_.size()) {
      const std::size_t elem_width = width - 1;
      std::string line = indent;
      for (std::int64_t i = 0; i < leading; ++i) {
        extend_line(s, line, recurse(axis + 1, next_indent, next_width), elem_width, indent);
        line += ", ";
      }
      if (summary) {
        extend_line(s, line, "...", elem_width, indent);
        line += ", ";
      }
      for (std::int64_t i = 0; i < trailing; ++i) {
        extend_line(s, line, recurse(axis + 1, next_indent, next_width), elem_width, indent);
        line += ", ";
      }
      extend_line(s, line, recurse(axis + 1, next_indent, next_width), elem_width, indent);
      s += line;
    } else {
      const std::string line_sep = "," + std::string(shape_.size() - axis - 1, '\n');
      for (std::int64_t i = 0; i < leading; ++i)
        s += indent + recurse(axis + 1, next_indent, next_width) + line_sep;
      if (summary) s += indent + "..." + line_sep;
      for (std::int64_t i = 0; i < trailing; ++i)
        s += indent + recurse(axis + 1, next_indent, next_width) + line_sep;
      s += indent + recurse(axis + 1, next_indent, next_width);
    }
    return "[" + s.substr(indent.size()) + "]";
  }

  const Shape& shape_;
  bool summarise_;
  const std::vector<std::string>& words_;
  std::size_t next_ = 0;
};

}  // namespace

std::string Array::to_string() const {
  if (size() == 0) return "[]";
  if (!on_host()) return to_host().to_string();
  const bool summarise = size() > summary_threshold;
  std::vector<std::string> words = visit_dtype(dtype_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::vector<T> values;
    gather(*this, summarise, values);
    return format_values(values);
  });
  // A rank-0 bool prints without the alignment space.
  if (rank() == 0) return dtype_ == DType::Bool && words[0] == " True" ? "True" : words[0];
  return Layout(shape_, summarise, words).run();
}

std::ostream& operator<<(std::ostream& os, const Array& a) { return os << a.to_string(); }

}  // namespace cgvm
