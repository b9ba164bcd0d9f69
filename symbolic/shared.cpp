#include "symbolic/shared.hpp"

#include <fmt/format.h>

#include "symbolic/op_list.hpp"
#include "symbolic/source.hpp"

namespace cgvm {

SharedState::SharedState(Array value, std::string name, TensorType type)
    : value_(std::move(value)), name_(std::move(name)), type_(std::move(type)) {}

Array SharedState::get(bool borrow) const {
  std::lock_guard lock(mutex_);
  if (borrow) return value_;
  return value_.on_host() ? value_.copy() : value_.to_host();
}

void SharedState::set(const Array& value, bool borrow, std::source_location loc) {
  std::string why = type_.mismatch(value);
  if (!why.empty())
    throw_error("set_value",
                fmt::format("shared variable '{}': {}", name_.empty() ? "?" : name_, why), loc);
  std::lock_guard lock(mutex_);
  const bool moves = value.context() != home_;
  value_ = moves ? value.to(home_) : borrow ? value : value.copy();
}

void SharedState::place(const std::shared_ptr<DeviceContext>& context) {
  std::lock_guard lock(mutex_);
  if (context == home_) return;
  value_ = value_.to(context);
  home_ = context;
}

Device SharedState::device() const {
  std::lock_guard lock(mutex_);
  return home_ ? home_->device() : Device::cpu();
}

SharedVar::SharedVar(const Var& v) : Var(v), state_(shared_state(v)) {
  if (!state_)
    throw Error(fmt::format("SharedVar: '{}' is not a shared variable", v.name()));
}

SharedVar shared(const Array& value, const std::string& name, std::source_location loc) {
  TensorType type{value.dtype(), Shape(value.rank(), unknown_dim)};
  auto state = std::make_shared<SharedState>(value.copy(), name, type);
  return SharedVar(
      apply(ops::shared_op(), {}, Attrs{{"state", state}, {"name", name}}, loc));
}

std::shared_ptr<SharedState> shared_state(const Var& v) {
  if (!is_shared(v)) return nullptr;
  return v.node()->attrs().get_shared("state");
}

}  // namespace cgvm
