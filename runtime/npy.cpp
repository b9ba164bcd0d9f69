// The .npy format (numpy/lib/format.py): magic "\x93NUMPY", a version, a little-endian
// header length, a Python dict literal describing the array, then the raw elements.
#include "runtime/npy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace cgvm {

namespace {

constexpr std::string_view magic = "\x93NUMPY";

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
  throw Error(fmt::format("npy: {}: {}", what, problem));
}

// Headers quoted in messages are cut short: a corrupt length field can make them huge.
std::string shorten(std::string_view header) {
  return header.size() <= 200 ? std::string(header)
                              : fmt::format("{}... ({} bytes)", header.substr(0, 200),
                                            header.size());
}

// A Python literal as it appears in an .npy header: str, int, bool, None, tuple/list.
struct PyValue {
  enum class Kind { Str, Int, Bool, None, Sequence } kind = Kind::None;
  std::string text;
  std::int64_t number = 0;
  std::vector<PyValue> items;
};

// Parses the header dict. Hand-written rather than regex-based so that any reasonable
// spacing, quoting, trailing commas or key order written by any numpy version works, and
// anything else fails with the position of the problem.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  std::vector<std::pair<std::string, PyValue>> parse_dict() {
    std::vector<std::pair<std::string, PyValue>> entries;
    expect('{');
    while (peek() != '}') {
      PyValue key = parse_value(0);
      if (key.kind != PyValue::Kind::Str) error("expected a string key");
      expect(':');
      entries.emplace_back(key.text, parse_value(0));
      if (peek() != ',') break;
      ++pos_;
    }
    expect('}');
    if (peek() != '\0') error("unexpected text after the dict");
    return entries;
  }

 private:
  // Next non-space character without consuming it; '\0' at the end.
  char peek() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  void expect(char c) {
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++pos_;
  }
  [[noreturn]] void error(const std::string& problem) {
    fail(what_, fmt::format("malformed header ({} at offset {}): {}", problem, pos_,
                            shorten(text_)));
  }

  PyValue parse_value(int depth) {
    if (depth > 16) error("nesting too deep");
    PyValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::Str;
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != c) {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
        v.text += text_[pos_++];
      }
      if (pos_ >= text_.size()) error("unterminated string");
      ++pos_;
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      v.kind = PyValue::Kind::Int;
      const std::size_t begin = pos_;
      if (c == '-') ++pos_;
      if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_])))
        error("expected a digit");
      const bool negative = c == '-';
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        const int digit = text_[pos_++] - '0';
        if (__builtin_mul_overflow(v.number, 10, &v.number) ||
            __builtin_add_overflow(v.number, negative ? -digit : digit, &v.number)) {
          pos_ = begin;
          error("integer out of range");
        }
      }
      if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 longs
    } else if (c == '(' || c == '[') {
      v.kind = PyValue::Kind::Sequence;
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      while (peek() != close) {
        v.items.push_back(parse_value(depth + 1));
        if (peek() != ',') break;
        ++pos_;
      }
      expect(close);
    } else {
      for (auto [word, kind, flag] : {std::tuple{"True", PyValue::Kind::Bool, true},
                                      std::tuple{"False", PyValue::Kind::Bool, false},
                                      std::tuple{"None", PyValue::Kind::None, false}}) {
        if (text_.substr(pos_).starts_with(word)) {
          pos_ += std::strlen(word);
          v.kind = kind;
          v.number = flag;
          return v;
        }
      }
      error("expected a value");
    }
    return v;
  }

  std::string_view text_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

struct Descr {
  DType dtype;
  bool big_endian;
};

Descr parse_descr(const PyValue& value, const std::string& what) {
  if (value.kind != PyValue::Kind::Str)
    fail(what, "unsupported dtype: structured arrays are not supported");
  std::string_view text = value.text;
  char order = '=';
  if (!text.empty() && std::string_view("<>|=").find(text[0]) != std::string_view::npos) {
    order = text[0];
    text.remove_prefix(1);
  }
  static const std::pair<std::string_view, DType> known[] = {
      {"b1", DType::Bool},   {"?", DType::Bool},    {"u1", DType::UInt8},
      {"i1", DType::Int8},   {"i2", DType::Int16},  {"i4", DType::Int32},
      {"i8", DType::Int64},  {"f4", DType::Float32}, {"f8", DType::Float64}};
  for (auto& [code, dtype] : known)
    if (text == code) {
      const bool big = order == '>' || (order == '=' && std::endian::native == std::endian::big);
      return {dtype, big && dtype_size(dtype) > 1};
    }
  fail(what, fmt::format("unsupported dtype '{}' (supported: bool, uint8, int8, int16, int32, "
                         "int64, float32, float64)",
                         value.text));
}

void byteswap_elements(char* data, std::int64_t count, std::size_t item) {
  if (item == 1) return;
  for (std::int64_t i = 0; i < count; ++i) std::reverse(data + i * item, data + (i + 1) * item);
}

std::string descr_of(DType dtype) {
  const char order = std::endian::native == std::endian::little ? '<' : '>';
  switch (dtype) {
    case DType::Bool: return "|b1";
    case DType::UInt8: return "|u1";
    case DType::Int8: return "|i1";
    case DType::Int16: return fmt::format("{}i2", order);
    case DType::Int32: return fmt::format("{}i4", order);
    case DType::Int64: return fmt::format("{}i8", order);
    case DType::Float32: return fmt::format("{}f4", order);
    case DType::Float64: return fmt::format("{}f8", order);
  }
  return "?";
}

std::string shape_repr(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

}  // namespace

Array parse_npy(const std::string& bytes, const std::string& what) {
  if (!std::string_view(bytes).starts_with(magic.substr(0, std::min(bytes.size(), magic.size()))))
    fail(what, "not a .npy file (bad magic string)");
  if (bytes.size() < 10) fail(what, "file is too short to be a .npy file");
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
  const int major = byte(6), minor = byte(7);
  std::size_t header_len, header_start;
  if (major == 1) {
    header_len = byte(8) | byte(9) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(what, "header is truncated");
    header_len = static_cast<std::size_t>(byte(8)) | byte(9) << 8 | byte(10) << 16 |
                 static_cast<std::size_t>(byte(11)) << 24;
    header_start = 12;
  } else {
    fail(what, fmt::format("unsupported .npy format version {}.{}", major, minor));
  }
  if (bytes.size() - header_start < header_len)
    fail(what, fmt::format("header is truncated: it should be {} bytes, the file has {}",
                           header_len, bytes.size() - header_start));
  const std::string_view header(bytes.data() + header_start, header_len);

  std::optional<PyValue> descr, fortran, shape_value;
  for (auto& [key, value] : HeaderParser(header, what).parse_dict()) {
    if (key == "descr") descr = value;
    else if (key == "fortran_order") fortran = value;
    else if (key == "shape") shape_value = value;
  }
  if (!descr || !fortran || !shape_value)
    fail(what, fmt::format("header lacks one of 'descr', 'fortran_order', 'shape': {}",
                           shorten(header)));
  const Descr d = parse_descr(*descr, what);
  if (fortran->kind != PyValue::Kind::Bool)
    fail(what, fmt::format("header has a non-boolean 'fortran_order': {}", shorten(header)));
  if (shape_value->kind != PyValue::Kind::Sequence)
    fail(what, fmt::format("header has a 'shape' that is not a tuple: {}", shorten(header)));
  Shape shape;
  std::int64_t count = 1;
  for (const PyValue& dim : shape_value->items) {
    if (dim.kind != PyValue::Kind::Int || dim.number < 0)
      fail(what, fmt::format("header has an invalid 'shape': {}", shorten(header)));
    if (__builtin_mul_overflow(count, dim.number, &count))
      fail(what, fmt::format("the shape in the header is too large: {}", shorten(header)));
    shape.push_back(dim.number);
  }

  const std::size_t item = dtype_size(d.dtype);
  const std::size_t available = bytes.size() - header_start - header_len;
  if (static_cast<std::uint64_t>(count) > available / item)
    fail(what, fmt::format("data is truncated: shape {} of {} needs {} elements of {} bytes but "
                           "only {} bytes follow the header",
                           shape_str(shape), dtype_name(d.dtype), count, item, available));

  // Fortran order is C order of the reversed shape, transposed back.
  Shape stored_shape = shape;
  if (fortran->number) std::reverse(stored_shape.begin(), stored_shape.end());
  Array a = Array::empty(stored_shape, d.dtype);
  char* data = static_cast<char*>(a.raw_data());
  if (count > 0) std::memcpy(data, bytes.data() + header_start + header_len, count * item);
  if (d.big_endian) byteswap_elements(data, count, item);
  if (d.dtype == DType::Bool) {
    // A bool object holding a byte other than 0/1 is undefined behaviour: normalise.
    auto* raw = reinterpret_cast<unsigned char*>(data);
    for (std::int64_t i = 0; i < count; ++i) raw[i] = raw[i] != 0;
  }
  return fortran->number ? a.transpose().copy() : a;
}

std::string serialize_npy(const Array& array) {
  // Byte-identical to numpy.save: sorted keys, trailing ", ", spare room to grow the first
  // axis in place (GROWTH_AXIS_MAX_DIGITS = 21), padding to a 64-byte data offset.
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                  descr_of(array.dtype()), shape_repr(array.shape()));
  if (array.rank() > 0) header.append(21 - fmt::formatted_size("{}", array.shape()[0]), ' ');
  std::size_t prefix = 10;
  if (header.size() + 1 + 64 > 0xFFFF) prefix = 12;  // version 2.0 has a 32-bit length
  const std::size_t padding = 64 - (prefix + header.size() + 1) % 64;
  header.append(padding, ' ');
  header += '\n';

  std::string out(magic);
  out += prefix == 10 ? '\x01' : '\x02';
  out += '\0';
  for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>(header.size() >> (8 * i));
  out += header;
  const Array c = array.to_host().contiguous();
  const std::size_t header_end = out.size();
  out.append(c.nbytes(), '\0');
  if (c.nbytes() > 0) std::memcpy(out.data() + header_end, c.raw_data(), c.nbytes());
  if (std::endian::native == std::endian::big)
    byteswap_elements(out.data() + header_end, c.size(), dtype_size(c.dtype()));
  return out;
}

Array load_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("load_npy: cannot read '{}': it is a directory", path));
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("load_npy: cannot open '{}': {}", path, std::strerror(errno)));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("load_npy: error while reading '{}'", path));
  return parse_npy(contents.str(), fmt::format("'{}'", path));
}

void save_npy(const std::string& path, const Array& array) {
  const std::string bytes = serialize_npy(array);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw Error(fmt::format("save_npy: cannot open '{}' for writing: {}", path,
                            std::strerror(errno)));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error(fmt::format("save_npy: error while writing '{}'", path));
}

}  // namespace cgvm
