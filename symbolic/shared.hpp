#pragma once
// Shared variables: state owned by the library (weights, optimizer moments, random-stream
// states) that compiled functions read and update in place. Values are copied in and out
// unless `borrow` is asked for, so a caller cannot change the state behind the library's back.
#include <memory>
#include <mutex>
#include <source_location>
#include <string>

#include "symbolic/node.hpp"

namespace cgvm {

//
// A shared variable lives on the host or on one device (place()); it stays there: a value
// set later is copied to where the variable lives, and get() without borrow returns a host
// copy wherever it lives.
class SharedState {
 public:
  SharedState(Array value, std::string name, TensorType type);
  // The current value: a fresh host copy, or with borrow the stored array itself (writes
  // show through; on a device when the variable lives there).
  Array get(bool borrow = false) const;
  // Replaces the value; its dtype and rank must match the variable's type (cgvm::Error
  // naming the variable and `loc` otherwise). Shapes may change where the type allows.
  // The value is stored where the variable lives (copied there when it is elsewhere).
  void set(const Array& value, bool borrow = false,
           std::source_location loc = std::source_location::current());
  // Moves the value to `context`'s device (the host when nullptr); it lives there from now.
  void place(const std::shared_ptr<DeviceContext>& context);
  Device device() const;
  const TensorType& type() const { return type_; }
  const std::string& name() const { return name_; }

 private:
  mutable std::mutex mutex_;
  Array value_;
  std::shared_ptr<DeviceContext> home_;  // where it lives; nullptr: the host
  std::string name_;
  TensorType type_;
};

// A Var that is a shared variable, with access to its value.
class SharedVar : public Var {
 public:
  SharedVar() = default;
  explicit SharedVar(const Var& v);  // v must be a shared variable (cgvm::Error otherwise)
  Array get_value(bool borrow = false) const { return state_->get(borrow); }
  void set_value(const Array& value, bool borrow = false,
                 std::source_location loc = std::source_location::current()) const {
    state_->set(value, borrow, loc);
  }
  // Where the value lives; cgvm::to_device (api/device.hpp) moves it.
  Device device() const { return state_->device(); }
  const std::shared_ptr<SharedState>& state() const { return state_; }

 private:
  std::shared_ptr<SharedState> state_;
};

// A new shared variable holding a copy of `value`. Its type has `value`'s dtype and rank
// with every dimension unknown (set_value may change the shape), as in Theano.
SharedVar shared(const Array& value, const std::string& name = "",
                 std::source_location loc = std::source_location::current());

// The state behind a shared Var, or nullptr.
std::shared_ptr<SharedState> shared_state(const Var& v);

}  // namespace cgvm
