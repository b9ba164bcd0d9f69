#include "symbolic/attrs.hpp"

#include <fmt/format.h>

#include <cstring>
#include <functional>

namespace cgvm {
namespace {

std::size_t combine(std::size_t seed, std::size_t h) {
  return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

std::size_t hash_array(const Array& a) {
  std::size_t h = std::hash<int>()(static_cast<int>(a.dtype()));
  for (auto d : a.shape()) h = combine(h, std::hash<std::int64_t>()(d));
  Array c = a.contiguous();
  auto bytes = std::string_view(static_cast<const char*>(c.raw_data()), c.nbytes());
  return combine(h, std::hash<std::string_view>()(bytes));
}

bool same_array(const Array& a, const Array& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Array ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

struct HashValue {
  std::size_t operator()(std::int64_t v) const { return std::hash<std::int64_t>()(v); }
  std::size_t operator()(double v) const { return std::hash<double>()(v); }
  std::size_t operator()(bool v) const { return std::hash<bool>()(v); }
  std::size_t operator()(const std::string& v) const { return std::hash<std::string>()(v); }
  std::size_t operator()(DType v) const { return std::hash<int>()(static_cast<int>(v)); }
  std::size_t operator()(const Ints& v) const {
    std::size_t h = v.size();
    for (auto x : v) h = combine(h, std::hash<std::int64_t>()(x));
    return h;
  }
  std::size_t operator()(const Array& v) const { return hash_array(v); }
  std::size_t operator()(const std::shared_ptr<SharedState>& v) const {
    return std::hash<const void*>()(v.get());
  }
  std::size_t operator()(const std::shared_ptr<const Subgraph>& v) const {
    return std::hash<const void*>()(v.get());
  }
};

std::string value_str(const AttrValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>)
          return fmt::format("{}", v);
        else if constexpr (std::is_same_v<T, bool>)
          return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>)
          return fmt::format("'{}'", v);
        else if constexpr (std::is_same_v<T, DType>)
          return std::string(dtype_name(v));
        else if constexpr (std::is_same_v<T, Ints>)
          return fmt::format("[{}]", fmt::join(v, ", "));
        else if constexpr (std::is_same_v<T, Array>)
          return v.size() <= 8 ? v.to_string() : fmt::format("<{} {}>", dtype_name(v.dtype()),
                                                              shape_str(v.shape()));
        else if constexpr (std::is_same_v<T, std::shared_ptr<SharedState>>)
          return fmt::format("<shared {}>", static_cast<const void*>(v.get()));
        else
          return fmt::format("<body {}>", static_cast<const void*>(v.get()));
      },
      value);
}

}  // namespace

Attrs::Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items) : items_(items) {}

Attrs& Attrs::set(std::string name, AttrValue value) {
  for (auto& [k, v] : items_)
    if (k == name) {
      v = std::move(value);
      return *this;
    }
  items_.emplace_back(std::move(name), std::move(value));
  return *this;
}

bool Attrs::has(std::string_view name) const {
  for (auto& [k, v] : items_)
    if (k == name) return true;
  return false;
}

const AttrValue& Attrs::get(std::string_view name) const {
  for (auto& [k, v] : items_)
    if (k == name) return v;
  throw InternalError(fmt::format("internal error: missing attribute '{}' in {{{}}}", name,
                                  str()));
}

namespace {
template <class T>
const T& get_as(const Attrs& attrs, std::string_view name) {
  const AttrValue& v = attrs.get(name);
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw InternalError(fmt::format("internal error: attribute '{}' has another type", name));
}
}  // namespace

std::int64_t Attrs::get_int(std::string_view n) const { return get_as<std::int64_t>(*this, n); }
double Attrs::get_double(std::string_view n) const { return get_as<double>(*this, n); }
bool Attrs::get_bool(std::string_view n) const { return get_as<bool>(*this, n); }
const std::string& Attrs::get_string(std::string_view n) const {
  return get_as<std::string>(*this, n);
}
DType Attrs::get_dtype(std::string_view n) const { return get_as<DType>(*this, n); }
const Ints& Attrs::get_ints(std::string_view n) const { return get_as<Ints>(*this, n); }
const Array& Attrs::get_array(std::string_view n) const { return get_as<Array>(*this, n); }
const std::shared_ptr<SharedState>& Attrs::get_shared(std::string_view n) const {
  return get_as<std::shared_ptr<SharedState>>(*this, n);
}
const std::shared_ptr<const Subgraph>& Attrs::get_subgraph(std::string_view n) const {
  return get_as<std::shared_ptr<const Subgraph>>(*this, n);
}

std::size_t Attrs::hash() const {
  std::size_t h = items_.size();
  for (auto& [k, v] : items_) {
    h = combine(h, std::hash<std::string>()(k));
    h = combine(h, v.index());
    h = combine(h, std::visit(HashValue{}, v));
  }
  return h;
}

bool Attrs::operator==(const Attrs& other) const {
  if (items_.size() != other.items_.size()) return false;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const auto& [ka, va] = items_[i];
    const auto& [kb, vb] = other.items_[i];
    if (ka != kb || va.index() != vb.index()) return false;
    bool same = std::visit(
        [&](const auto& a) {
          using T = std::decay_t<decltype(a)>;
          const T& b = std::get<T>(vb);
          if constexpr (std::is_same_v<T, Array>)
            return same_array(a, b);
          else if constexpr (std::is_same_v<T, double>)
            // Bitwise, so that NaN constants hash-cons and -0.0 stays distinct from 0.0.
            return std::memcmp(&a, &b, sizeof a) == 0;
          else
            return a == b;
        },
        va);
    if (!same) return false;
  }
  return true;
}

std::string Attrs::str() const {
  std::string out;
  for (auto& [k, v] : items_) {
    if (!out.empty()) out += ", ";
    out += k + "=" + value_str(v);
  }
  return out;
}

}  // namespace cgvm
