#pragma once
// Loading compiled code into the process (internal to jit/): relocatable objects through
// one ORC LLJIT, and libmvec made visible to both compile paths.
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "jit/jit.hpp"

namespace cgvm::jit {

// Names registered with register_jit_symbol, and a counter that changes with every
// registration so consumers can tell when to resync.
struct SymbolRegistry {
  std::map<std::string, void*, std::less<>> symbols;
  std::uint64_t generation = 0;
};
SymbolRegistry registered_symbols();  // a snapshot (defined in jit.cpp)

// glibc's libmvec, opened RTLD_GLOBAL so vectorized code resolves _ZGV* functions through
// the process; nullptr where it does not exist.
void* libmvec_handle();

// Whether the ORC JIT could be created; if not, `why` says why. Initializes on first call.
bool orc_loader_available(std::string* why = nullptr);

// Links `object` into the process in a JITDylib of its own and resolves every symbol it
// defines. Unresolved references are a cgvm::Error naming them.
std::shared_ptr<const CompiledModule> load_object(const std::string& object,
                                                  const std::string& cache_key);

}  // namespace cgvm::jit
