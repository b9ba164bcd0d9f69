#include "jit/cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <llvm/Config/llvm-config.h>
#include <llvm/Support/BLAKE3.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "jit_fingerprint.hpp"  // generated: CGVM_JIT_FINGERPRINT, a hash of jit/*.cpp

namespace cgvm::jit {
namespace {

// Bumped only when the entry layout below changes; the key already changes with every
// edit of the jit sources through CGVM_JIT_FINGERPRINT.
constexpr std::uint32_t kFormatVersion = 1;
constexpr char kMagic[8] = {'c', 'g', 'v', 'm', 'o', 'b', 'j', '\n'};

// Host byte order is fine: the key includes the host target, so entries never travel.
struct Header {
  char magic[8];
  std::uint32_t format;
  std::uint32_t header_size;
  std::uint64_t payload_size;
  char key[64];
  std::uint8_t payload_hash[32];
};
static_assert(sizeof(Header) == 120);

std::array<std::uint8_t, 32> blake3(std::string_view bytes) {
  llvm::BLAKE3 hasher;
  hasher.update(llvm::StringRef(bytes.data(), bytes.size()));
  return hasher.final();
}

// Each field is length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
void add_field(llvm::BLAKE3& hasher, std::string_view field) {
  std::uint64_t size = field.size();
  hasher.update(llvm::ArrayRef<std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&size),
                                             sizeof size));
  hasher.update(llvm::StringRef(field.data(), field.size()));
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Reads the whole file; false if it cannot be opened or read.
bool read_file(const std::string& path, std::string& out, bool& missing) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  missing = fd < 0 && errno == ENOENT;
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (ok && done < out.size()) {
      ssize_t n = ::read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        out.resize(done);  // shrank underneath us: validation below reports it
        break;
      }
      done += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  return ok;
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string make_key(const KeyInputs& in) {
  llvm::BLAKE3 hasher;
  add_field(hasher, std::to_string(kFormatVersion));
  add_field(hasher, CGVM_JIT_FINGERPRINT);
  add_field(hasher, LLVM_VERSION_STRING);
  add_field(hasher, in.path);
  add_field(hasher, in.target);
  add_field(hasher, in.flags);
  add_field(hasher, in.codegen_version);
  add_field(hasher, std::to_string(in.opt_level));
  add_field(hasher, in.source);
  auto digest = hasher.final();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  key.reserve(64);
  for (std::uint8_t b : digest) {
    key += kHex[b >> 4];
    key += kHex[b & 15];
  }
  return key;
}

std::string DiskCache::entry_path(const std::string& key, std::string_view ext) const {
  return dir_ + "/" + key.substr(0, 2) + "/" + key + "." + std::string(ext);
}

DiskCache::Entry DiskCache::read(const std::string& key, std::string_view ext) const {
  Entry entry;
  std::string bytes;
  bool missing = false;
  if (!read_file(entry_path(key, ext), bytes, missing)) {
    // Unreadable for another reason (permissions): a miss; the write will say why.
    entry.status = Status::Missing;
    return entry;
  }
  auto corrupt = [&](const char* why) {
    entry.status = Status::Corrupt;
    entry.problem = why;
    return entry;
  };
  Header header;
  if (bytes.size() < sizeof header) return corrupt("shorter than its header");
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0) return corrupt("bad magic");
  if (header.format != kFormatVersion || header.header_size != sizeof header)
    return corrupt("unknown format");
  if (header.payload_size != bytes.size() - sizeof header) return corrupt("truncated");
  if (std::string_view(header.key, sizeof header.key) != key)
    return corrupt("stored under the wrong key");
  std::string_view payload(bytes.data() + sizeof header, header.payload_size);
  auto hash = blake3(payload);
  if (std::memcmp(hash.data(), header.payload_hash, hash.size()) != 0)
    return corrupt("checksum mismatch");
  entry.status = Status::Ok;
  entry.payload.assign(payload);
  return entry;
}

std::string DiskCache::write(const std::string& key, std::string_view ext,
                             std::string_view payload) const {
  std::string final_path = entry_path(key, ext);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(final_path).parent_path(), ec);
  if (ec) return "cannot create " + dir_ + ": " + ec.message();

  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.format = kFormatVersion;
  header.header_size = sizeof header;
  header.payload_size = payload.size();
  std::memcpy(header.key, key.data(), sizeof header.key);
  auto hash = blake3(payload);
  std::memcpy(header.payload_hash, hash.data(), hash.size());

  // The temp file sits next to the entry so rename() stays within one file system, which
  // is what makes the publication atomic. No fsync: after a crash a torn entry fails
  // validation and is rebuilt, which is cheaper than syncing every compile.
  std::string temp = final_path + ".tmp-XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) return errno_text(("cannot create a file in " + dir_).c_str());
  ::fchmod(fd, 0644);
  bool ok = write_all(fd, reinterpret_cast<const char*>(&header), sizeof header) &&
            write_all(fd, payload.data(), payload.size());
  std::string problem = ok ? "" : errno_text("cannot write the cache entry");
  if (::close(fd) != 0 && ok) {
    ok = false;
    problem = errno_text("cannot write the cache entry");
  }
  if (ok && ::rename(temp.c_str(), final_path.c_str()) != 0) {
    ok = false;
    problem = errno_text("cannot publish the cache entry");
  }
  if (!ok) ::unlink(temp.c_str());
  return problem;
}

}  // namespace cgvm::jit
