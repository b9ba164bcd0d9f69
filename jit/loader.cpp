// One ORC LLJIT per process, one JITDylib per compiled module.
//
// One LLJIT: creating it costs milliseconds and its ExecutionSession is thread-safe, so
// every module shares it. A JITDylib per module: generated translation units may all
// export the same entry-point name, and removing the JITDylib is how a module's code is
// unmapped when its last reference goes.
//
// Symbol resolution, in order: the module itself; "cgvm_process", which holds the
// registered symbols (absolute addresses) and falls back to dlsym on the running process,
// so libc, libm, libmvec and OpenBLAS resolve when the process has them loaded.
#include "jit/loader.hpp"

#include <dlfcn.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectFileInterface.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>

#include <atomic>
#include <mutex>

#include "runtime/error.hpp"

namespace cgvm::jit {
namespace {

struct Loader {
  std::string error;  // non-empty: unavailable, and why
  std::unique_ptr<llvm::orc::LLJIT> jit;
  llvm::orc::JITDylib* process = nullptr;
  std::mutex registry_mutex;
  std::uint64_t synced_generation = 0;
  std::map<std::string, void*, std::less<>> defined;  // what `process` holds now
  std::atomic<std::uint64_t> next_module_id{0};
};

std::string text(llvm::Error error) { return llvm::toString(std::move(error)); }

// ORC reports why a link failed (the missing symbols) to the session's error reporter, and
// only "failed to materialize" to the lookup. Linking runs on the thread that looks up
// (no ORC threads), so a thread-local buffer pairs the two.
thread_local std::string link_errors;

// Our process-symbols JITDylib: LLJIT links it into every JITDylib it creates.
llvm::Expected<llvm::orc::JITDylibSP> set_up_process_symbols(llvm::orc::LLJIT& jit) {
  auto& process = jit.getExecutionSession().createBareJITDylib("cgvm_process");
  auto generator = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      jit.getDataLayout().getGlobalPrefix());
  if (!generator) return generator.takeError();
  process.addGenerator(std::move(*generator));
  return &process;
}

Loader& loader() {
  // Leaked on purpose: modules released during static destruction still unlink from it.
  static Loader* state = [] {
    auto* l = new Loader;
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    libmvec_handle();
    auto jit =
        llvm::orc::LLJITBuilder().setProcessSymbolsJITDylibSetup(set_up_process_symbols).create();
    if (!jit) {
      l->error = "cannot create the ORC JIT: " + text(jit.takeError());
      return l;
    }
    l->jit = std::move(*jit);
    l->process = l->jit->getProcessSymbolsJITDylib().get();
    l->jit->getExecutionSession().setErrorReporter(
        [](llvm::Error e) { link_errors += text(std::move(e)) + "\n"; });
    return l;
  }();
  return *state;
}

// Brings "cgvm_process" up to date with the registry. A name may already be defined there
// (an earlier registration, or a process symbol the generator found first), so each is
// removed before it is redefined; modules already linked keep the address they got.
void sync_registry(Loader& l) {
  SymbolRegistry registry = registered_symbols();
  std::lock_guard lock(l.registry_mutex);
  if (registry.generation == l.synced_generation) return;
  for (const auto& [name, address] : registry.symbols) {
    auto old = l.defined.find(name);
    if (old != l.defined.end() && old->second == address) continue;
    llvm::orc::SymbolStringPtr interned = l.jit->mangleAndIntern(name);
    llvm::consumeError(l.process->remove({interned}));  // absent is fine
    llvm::orc::SymbolMap symbols;
    symbols[interned] = {llvm::orc::ExecutorAddr::fromPtr(address),
                         llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    if (llvm::Error e = l.process->define(llvm::orc::absoluteSymbols(std::move(symbols))))
      throw InternalError("jit: cannot register symbol " + name + ": " + text(std::move(e)));
    l.defined[name] = address;
  }
  l.synced_generation = registry.generation;
}

class OrcModule final : public CompiledModule {
 public:
  OrcModule(std::string key, llvm::orc::JITDylib& dylib,
            std::map<std::string, void*, std::less<>> symbols)
      : CompiledModule(std::move(key), "in-process"),
        dylib_(&dylib),
        symbols_(std::move(symbols)) {}
  ~OrcModule() override {
    // Nothing sensible to do if unlinking fails at this point; the memory just stays.
    llvm::consumeError(loader().jit->getExecutionSession().removeJITDylib(*dylib_));
  }
  void* symbol(std::string_view name) const override {
    auto it = symbols_.find(name);
    return it == symbols_.end() ? nullptr : it->second;
  }

 private:
  llvm::orc::JITDylib* dylib_;
  std::map<std::string, void*, std::less<>> symbols_;  // every symbol the object defines
};

}  // namespace

void* libmvec_handle() {
  static void* handle = ::dlopen("libmvec.so.1", RTLD_NOW | RTLD_GLOBAL);
  return handle;
}

bool orc_loader_available(std::string* why) {
  const Loader& l = loader();
  if (why) *why = l.error;
  return l.error.empty();
}

std::shared_ptr<const CompiledModule> load_object(const std::string& object,
                                                  const std::string& cache_key) {
  Loader& l = loader();
  if (!l.error.empty()) throw Error("jit: the in-process loader is unavailable: " + l.error);
  sync_registry(l);
  llvm::orc::ExecutionSession& session = l.jit->getExecutionSession();
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(object, "cgvm_" + cache_key + ".o");
  auto interface = llvm::orc::getObjectFileInterface(session, buffer->getMemBufferRef());
  if (!interface)
    throw Error("jit: not a loadable object file: " + text(interface.takeError()));
  // ORC runs static initializers only for IR; in an object they would silently not run.
  if (interface->InitSymbol)
    throw Error("jit: the generated code has static initializers (globals that need "
                "constructing at load time), which the in-process JIT does not run");

  std::string dylib_name = "cgvm_module_" + std::to_string(l.next_module_id++);
  auto dylib = l.jit->createJITDylib(dylib_name);
  if (!dylib) throw InternalError("jit: cannot create a JITDylib: " + text(dylib.takeError()));
  link_errors.clear();
  auto fail = [&](const std::string& what, llvm::Error e) {
    std::string message = what + link_errors + text(std::move(e));
    llvm::consumeError(session.removeJITDylib(*dylib));
    throw Error(message);
  };
  if (llvm::Error e = l.jit->addObjectFile(*dylib, std::move(buffer)))
    fail("jit: cannot add the object: ", std::move(e));

  // Looking up every defined symbol now links the object here, so a missing symbol is an
  // error of compile_cpp rather than of the first call, and symbol() becomes a map lookup.
  llvm::orc::SymbolLookupSet wanted;
  for (const auto& [name, flags] : interface->SymbolFlags) wanted.add(name);
  auto found = session.lookup(
      llvm::orc::makeJITDylibSearchOrder({&*dylib},
                                         llvm::orc::JITDylibLookupFlags::MatchAllSymbols),
      std::move(wanted));
  if (!found) fail("jit: linking the compiled code failed: ", found.takeError());

  char prefix = l.jit->getDataLayout().getGlobalPrefix();
  std::map<std::string, void*, std::less<>> symbols;
  for (const auto& [name, definition] : *found) {
    llvm::StringRef plain = *name;
    if (prefix != '\0' && plain.starts_with(std::string(1, prefix))) plain = plain.drop_front();
    symbols[plain.str()] = definition.getAddress().toPtr<void*>();
  }
  return std::make_shared<OrcModule>(cache_key, *dylib, std::move(symbols));
}

}  // namespace cgvm::jit
