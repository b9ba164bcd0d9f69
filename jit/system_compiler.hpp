#pragma once
// The fallback compile path (internal to jit/): an external compiler builds a shared
// library, which is dlopen'ed. Slow (a process per compile) but independent of the
// in-process machinery; its .so goes through the same disk cache as the objects.
#include <memory>
#include <string>
#include <vector>

#include "jit/jit.hpp"
#include "jit/loader.hpp"

namespace cgvm::jit {

// The compiler we would run: the Clang we build against, else clang++-19, clang++, c++.
struct SystemCompiler {
  std::string executable;  // empty: none found
  std::string identity;    // executable + its --version line: part of the cache key
  bool is_clang = false;
};
const SystemCompiler& system_compiler();

// Registered symbols cannot be reached by the dynamic linker (they need not be exported),
// so each one the source mentions is renamed to a pointer the loader fills in after
// dlopen. These are the names that will be renamed (they change the .so: part of the key).
std::vector<std::string> registered_names_in(const std::string& source,
                                             const SymbolRegistry& registry);

// The flags of a system compile at `opt_level`; part of the cache key.
std::string system_flags(int opt_level);

// Compiles `source` into shared-library bytes. The compiler's stderr becomes a cgvm::Error.
std::string system_compile(const std::string& source, int opt_level,
                           const std::vector<std::string>& renamed);

// dlopens `library` and points its renamed symbols at their registered addresses.
std::shared_ptr<const CompiledModule> load_shared_library(
    const std::string& library, const std::string& cache_key,
    const std::vector<std::string>& renamed, const SymbolRegistry& registry);

}  // namespace cgvm::jit
