#pragma once
// numpy's .npy and .npz formats, read and written byte-compatible with numpy itself.
//   - .npy: format versions 1.0, 2.0 and 3.0 are read; 1.0 is written (2.0 when the header
//     needs it). Little- and big-endian data are read; Fortran order is read. Writes are
//     C-order little-endian.
//   - .npz: a zip archive of .npy members ("name.npy"), stored or deflated (numpy.savez and
//     numpy.savez_compressed); written stored, or deflated when `compress` is true.
// Unsupported dtypes (complex, strings, objects, float16) raise cgvm::Error naming the file.
#include <map>
#include <string>

#include "runtime/array.hpp"

namespace cgvm {

Array load_npy(const std::string& path);
void save_npy(const std::string& path, const Array& array);

// In-memory forms, used by the .npz code and by tests.
Array parse_npy(const std::string& bytes, const std::string& what);
std::string serialize_npy(const Array& array);

std::map<std::string, Array> load_npz(const std::string& path);
void save_npz(const std::string& path, const std::map<std::string, Array>& arrays,
              bool compress = false);

}  // namespace cgvm
