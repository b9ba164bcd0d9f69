// .npz archives through libzip: a zip of "name.npy" members, as numpy.savez writes them.
#include <fmt/format.h>
#include <zip.h>

#include <fstream>
#include <memory>
#include <new>

#include "runtime/npy.hpp"

namespace cgvm {

namespace {

struct ZipDiscard {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;

std::string open_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

std::string read_member(zip_t* z, zip_uint64_t index, const zip_stat_t& st,
                        const std::string& what) {
  zip_file_t* file = zip_fopen_index(z, index, 0);
  if (file == nullptr)
    throw Error(fmt::format("load_npz: {}: cannot open the member: {}", what, zip_strerror(z)));
  // Deflate expands at most ~1032:1; a larger claim is a corrupt directory, and believing it
  // would allocate (and zero) gigabytes before the read fails.
  if ((st.valid & ZIP_STAT_COMP_SIZE) && st.size / 1100 > st.comp_size + 1) {
    zip_fclose(file);
    throw Error(fmt::format("load_npz: {}: the member claims {} bytes from {} compressed bytes",
                            what, st.size, st.comp_size));
  }
  std::string data;
  try {
    data.resize(st.size);
  } catch (const std::bad_alloc&) {
    zip_fclose(file);
    throw Error(fmt::format("load_npz: {}: the member claims {} bytes, too many to load", what,
                            st.size));
  }
  zip_uint64_t got = 0;
  char extra;
  // Reads until libzip reports the end: its CRC check runs only when it hits the end.
  for (;;) {
    const bool full = got == st.size;
    const zip_int64_t n =
        zip_fread(file, full ? &extra : data.data() + got, full ? 1 : st.size - got);
    if (n < 0) {
      std::string problem = zip_file_strerror(file);
      zip_fclose(file);
      throw Error(fmt::format("load_npz: {}: cannot read the member: {}", what, problem));
    }
    if (n == 0) break;
    if (full) {
      zip_fclose(file);
      throw Error(fmt::format("load_npz: {}: the member is longer than its directory entry says",
                              what));
    }
    got += static_cast<zip_uint64_t>(n);
  }
  const int close_error = zip_fclose(file);
  if (got < st.size)
    throw Error(fmt::format("load_npz: {}: the member is truncated ({} of {} bytes)", what, got,
                            st.size));
  if (close_error != 0)
    throw Error(fmt::format("load_npz: {}: the member is corrupt: {}", what,
                            open_error_text(close_error)));
  return data;
}

}  // namespace

std::map<std::string, Array> load_npz(const std::string& path) {
  int code = 0;
  ZipPtr z(zip_open(path.c_str(), ZIP_RDONLY, &code));
  if (!z)
    throw Error(fmt::format("load_npz: cannot open '{}': {}", path, open_error_text(code)));
  std::map<std::string, Array> arrays;
  const zip_int64_t entries = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t st;
    if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
        (st.valid & (ZIP_STAT_NAME | ZIP_STAT_SIZE)) != (ZIP_STAT_NAME | ZIP_STAT_SIZE))
      throw Error(fmt::format("load_npz: '{}': cannot read entry {}: {}", path, i,
                              zip_strerror(z.get())));
    std::string name = st.name;
    if (name.ends_with('/')) continue;  // a directory entry, not an array
    const std::string what = fmt::format("'{}' (member '{}')", path, name);
    const std::string bytes = read_member(z.get(), static_cast<zip_uint64_t>(i), st, what);
    if (name.ends_with(".npy")) name.resize(name.size() - 4);
    arrays.insert_or_assign(name, parse_npy(bytes, what));
  }
  return arrays;
}

void save_npz(const std::string& path, const std::map<std::string, Array>& arrays,
              bool compress) {
  if (arrays.empty()) {
    // libzip deletes an archive left with no members; numpy writes an empty zip instead:
    // just the 22-byte end-of-central-directory record.
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write("PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22);
    out.close();
    if (!out) throw Error(fmt::format("save_npz: cannot write '{}'", path));
    return;
  }
  int code = 0;
  ZipPtr z(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!z)
    throw Error(fmt::format("save_npz: cannot create '{}': {}", path, open_error_text(code)));
  // libzip reads the buffers only in zip_close, so they must outlive the loop.
  std::vector<std::unique_ptr<std::string>> buffers;
  for (const auto& [name, array] : arrays) {
    if (name.empty()) throw Error(fmt::format("save_npz: '{}': an array has an empty name", path));
    const std::string member = name + ".npy";
    buffers.push_back(std::make_unique<std::string>(serialize_npy(array)));
    zip_source_t* source =
        zip_source_buffer(z.get(), buffers.back()->data(), buffers.back()->size(), 0);
    if (source == nullptr)
      throw Error(fmt::format("save_npz: '{}': {}", path, zip_strerror(z.get())));
    const zip_int64_t index =
        zip_file_add(z.get(), member.c_str(), source, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (index < 0) {
      zip_source_free(source);
      throw Error(fmt::format("save_npz: '{}': cannot add member '{}': {}", path, member,
                              zip_strerror(z.get())));
    }
    if (zip_set_file_compression(z.get(), static_cast<zip_uint64_t>(index),
                                 compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0)
      throw Error(fmt::format("save_npz: '{}': cannot set compression for '{}': {}", path,
                              member, zip_strerror(z.get())));
  }
  if (zip_close(z.get()) != 0)
    throw Error(fmt::format("save_npz: cannot write '{}': {}", path, zip_strerror(z.get())));
  z.release();  // zip_close freed it
}

}  // namespace cgvm
