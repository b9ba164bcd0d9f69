// The system-compiler fallback: write the source to a temp dir, run the compiler with
// -shared, dlopen the result. Used when asked for (JitOptions::force_system_compiler) or
// when the in-process compiler or loader cannot start.
#include "jit/system_compiler.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "jit/compiler.hpp"
#include "runtime/error.hpp"

extern char** environ;

namespace cgvm::jit {
namespace {

namespace fs = std::filesystem;

// Runs argv in `cwd` (empty: ours) and returns its exit status, or -1 if it could not
// start; stdout and stderr together land in `output`.
int run_process(const std::vector<std::string>& argv, const std::string& cwd,
                std::string& output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int spawned = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  char buffer[4096];
  for (ssize_t n; spawned == 0 && (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (spawned != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_';
}

bool mentions_identifier(const std::string& source, const std::string& name) {
  for (std::size_t at = source.find(name); at != std::string::npos;
       at = source.find(name, at + 1)) {
    bool starts = at == 0 || !is_identifier_char(source[at - 1]);
    std::size_t end = at + name.size();
    if (starts && (end == source.size() || !is_identifier_char(source[end]))) return true;
  }
  return false;
}

std::vector<std::string> compile_args(int opt_level) {
  std::vector<std::string> args = {"-std=c++20", "-O" + std::to_string(opt_level),
                                   "-march=native", "-fno-math-errno", "-ffp-contract=fast",
                                   "-fno-exceptions", "-fno-rtti", "-fPIC", "-shared", "-w"};
  if (system_compiler().is_clang) args.push_back("-fveclib=libmvec");
  return args;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) throw Error("jit: cannot write " + path.string());
}

class SharedLibraryModule final : public CompiledModule {
 public:
  SharedLibraryModule(std::string key, void* handle, std::string file)
      : CompiledModule(std::move(key), "system-compiler"),
        handle_(handle),
        file_(std::move(file)) {}
  ~SharedLibraryModule() override { ::dlclose(handle_); }
  // dlsym also searches the library's dependencies (libm...); only what the module itself
  // defines counts, as on the in-process path.
  void* symbol(std::string_view name) const override {
    void* address = ::dlsym(handle_, std::string(name).c_str());
    Dl_info info{};
    if (!address || !::dladdr(address, &info) || !info.dli_fname || file_ != info.dli_fname)
      return nullptr;
    return address;
  }

 private:
  void* handle_;
  std::string file_;  // the name it was dlopen'ed under
};

}  // namespace

const SystemCompiler& system_compiler() {
  static const SystemCompiler found = [] {
    SystemCompiler c;
    for (const char* name : {CGVM_CLANG_EXECUTABLE, "clang++-19", "clang++", "c++"}) {
      c.executable = find_in_path(name);
      if (!c.executable.empty()) break;
    }
    if (c.executable.empty()) return c;
    std::string version;
    run_process({c.executable, "--version"}, "", version);
    version = version.substr(0, version.find('\n'));
    c.identity = c.executable + " " + version;
    c.is_clang = version.find("clang") != std::string::npos;
    return c;
  }();
  return found;
}

std::vector<std::string> registered_names_in(const std::string& source,
                                             const SymbolRegistry& registry) {
  std::vector<std::string> names;
  for (const auto& [name, address] : registry.symbols)
    if (mentions_identifier(source, name)) names.push_back(name);
  return names;
}

std::string system_flags(int opt_level) {
  std::string flags;
  for (const std::string& a : compile_args(opt_level)) flags += a + " ";
  return flags + "-lmvec";
}

std::string system_compile(const std::string& source, int opt_level,
                           const std::vector<std::string>& renamed) {
  const SystemCompiler& compiler = system_compiler();
  if (compiler.executable.empty())
    throw Error("jit: no system C++ compiler found (tried " CGVM_CLANG_EXECUTABLE
                ", clang++-19, clang++, c++ on PATH)");
  std::string pattern = (fs::temp_directory_path() / "cgvm-jit-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw Error("jit: cannot create a temporary directory");
  fs::path dir = pattern;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};

  std::vector<std::string> argv = {compiler.executable};
  for (const std::string& a : compile_args(opt_level)) argv.push_back(a);
  // name(...) becomes (*cgvm_sym_name)(...): a call through a pointer we fill in after
  // dlopen. The pointers are weak definitions in a second file, so the library is
  // self-contained whether or not the source itself defines them.
  std::string shim;
  for (const std::string& name : renamed) {
    argv.push_back("-D" + name + "=(*cgvm_sym_" + name + ")");
    shim += "extern \"C\" __attribute__((weak)) void* cgvm_sym_" + name + " = nullptr;\n";
  }
  write_text(dir / kSourceName, source);
  argv.push_back(kSourceName);
  if (!shim.empty()) {
    write_text(dir / "cgvm_symbols.cpp", shim);
    argv.push_back("cgvm_symbols.cpp");
  }
  for (const char* tail : {"-o", "module.so", "-lmvec"}) argv.push_back(tail);

  std::string output;
  int status = run_process(argv, dir.string(), output);
  if (status != 0)
    throw Error("jit: the generated C++ source does not compile (" + compiler.executable +
                ", exit status " + std::to_string(status) + "):\n" + output);
  std::ifstream in(dir / "module.so", std::ios::binary);
  std::string library((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (library.empty()) throw Error("jit: the system compiler produced no library");
  return library;
}

std::shared_ptr<const CompiledModule> load_shared_library(
    const std::string& library, const std::string& cache_key,
    const std::vector<std::string>& renamed, const SymbolRegistry& registry) {
  // dlopen finds already-loaded libraries by name, so every load gets a name never used
  // before in this process. The file goes once the library is mapped.
  static std::atomic<std::uint64_t> counter{0};
  std::string file = (fs::temp_directory_path() /
                      ("cgvm-jit-" + std::to_string(::getpid()) + "-" +
                       std::to_string(counter++) + "-" + cache_key.substr(0, 16) + ".so"))
                         .string();
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  if (fd < 0) throw Error("jit: cannot create " + file + ": " + std::strerror(errno));
  bool written = ::write(fd, library.data(), library.size()) ==
                 static_cast<ssize_t>(library.size());
  ::close(fd);
  void* handle = written ? ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
  std::string problem = written ? (handle ? "" : ::dlerror()) : "short write";
  ::unlink(file.c_str());
  if (!handle) throw Error("jit: cannot load the compiled library: " + problem);

  for (const std::string& name : renamed) {
    auto* slot = static_cast<void**>(::dlsym(handle, ("cgvm_sym_" + name).c_str()));
    auto it = registry.symbols.find(name);
    if (!slot || it == registry.symbols.end()) {
      ::dlclose(handle);
      throw InternalError("jit: registered symbol " + name + " has no slot in the library");
    }
    *slot = it->second;
  }
  return std::make_shared<SharedLibraryModule>(cache_key, handle, file);
}

}  // namespace cgvm::jit
