#pragma once
// The content-addressed disk cache behind compile_cpp (internal to jit/).
//
// Key: BLAKE3 over every input that changes the compiled bytes (make_key). An entry is
// <dir>/<first 2 hex digits>/<key>.<ext>: a fixed header (magic, format, payload length,
// key, payload BLAKE3) followed by the payload (an object file or a shared library).
// Writers publish by rename() of a unique temp file in the same directory, so readers never
// see a half-written entry and take no lock; anything that still fails validation
// (truncated by a crash, a flipped bit) reads as Corrupt and the caller rebuilds it.
#include <string>
#include <string_view>

namespace cgvm::jit {

struct KeyInputs {
  std::string_view path;             // "in-process" or "system-compiler <identity>"
  std::string_view target;           // host triple, CPU name and feature string
  std::string_view flags;            // compiler flags that are not in `target`
  std::string_view codegen_version;  // from JitOptions
  int opt_level = 3;
  std::string_view source;
};

// 64 hex digits. Also covers the LLVM version and a fingerprint of jit/'s own sources, so
// a changed pipeline never reuses old objects (no hand-bumped version number).
std::string make_key(const KeyInputs& inputs);

class DiskCache {
 public:
  explicit DiskCache(std::string dir) : dir_(std::move(dir)) {}

  enum class Status { Missing, Ok, Corrupt };
  struct Entry {
    Status status = Status::Missing;
    std::string payload;  // when Ok
    std::string problem;  // when Corrupt: what was wrong, for the warning
  };
  Entry read(const std::string& key, std::string_view ext) const;
  // Publishes the entry atomically. Returns "" on success, else why it failed.
  std::string write(const std::string& key, std::string_view ext,
                    std::string_view payload) const;

  std::string entry_path(const std::string& key, std::string_view ext) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace cgvm::jit
