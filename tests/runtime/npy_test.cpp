#include <cmath>
#include <fstream>
#include <sstream>

#include "runtime/npy.hpp"
#include "support.hpp"

using namespace cgvm;

namespace {

using V = std::vector<double>;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs a Python script with the system interpreter (the one with numpy); `args` follow.
int run_python(const std::string& dir, const std::string& name, const std::string& script,
               const std::string& args) {
  const std::string path = dir + "/" + name;
  write_file(path, script);
  return test::run_shell(std::string(CGVM_SYSTEM_PYTHON) + " " + path + " " + args);
}

void require_numpy() {
  REQUIRE_MESSAGE(test::run_shell(std::string(CGVM_SYSTEM_PYTHON) +
                                  " -c 'import numpy' >/dev/null 2>&1") == 0,
                  "these tests need " CGVM_SYSTEM_PYTHON
                  " with numpy installed (Debian: apt install python3-numpy)");
}

// Files written by numpy itself, shared by the reading tests below.
const char* numpy_writer = R"PY(
import sys, numpy as np
d = sys.argv[1]
np.save(d + '/f32.npy', np.array([[1.5, -2.25, 3.0], [4.0, 5.5, -6.0]], dtype=np.float32))
np.save(d + '/f64.npy', np.array([1/3, -1e300, np.inf, np.nan]))
np.save(d + '/i64.npy', np.array([-(2**62), 0, 2**53 + 1], dtype=np.int64))
np.save(d + '/i32.npy', np.array([-7, 70000], dtype=np.int32))
np.save(d + '/i16.npy', np.array([-300, 300], dtype=np.int16))
np.save(d + '/i8.npy', np.array([-128, 127], dtype=np.int8))
np.save(d + '/bool.npy', np.array([[True, False], [False, True]]))
np.save(d + '/u8.npy', np.arange(250, 256, dtype=np.uint8))
np.save(d + '/scalar.npy', np.array(2.5))
np.save(d + '/rank3.npy', np.arange(24, dtype=np.int32).reshape(2, 3, 4))
np.save(d + '/empty.npy', np.zeros((0, 3), dtype=np.float32))
np.save(d + '/fortran.npy', np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save(d + '/big_f8.npy', np.array([1.5, -2.0, 1e10], dtype='>f8'))
np.save(d + '/big_i4.npy', np.array([1, -2, 70000], dtype='>i4'))
for v in [(2, 0), (3, 0)]:
    with open(d + '/v%d.npy' % v[0], 'wb') as f:
        np.lib.format.write_array(f, np.array([1.0, 2.0], dtype=np.float32), version=v)
np.save(d + '/c8.npy', np.array([1 + 2j], dtype=np.complex64))
np.save(d + '/f2.npy', np.array([1.0], dtype=np.float16))
np.save(d + '/u2.npy', np.array([1], dtype=np.uint16))
np.save(d + '/str.npy', np.array(['abc']))
np.save(d + '/struct.npy', np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]))
np.savez(d + '/plain.npz', a=np.arange(5, dtype=np.int64), b=np.array([[1.0, 2.0]], dtype=np.float32))
np.savez_compressed(d + '/compressed.npz', x=np.linspace(0, 1, 1000), flag=np.array(True),
                    empty=np.zeros((2, 0), dtype=np.uint8))
np.savez(d + '/with_complex.npz', ok=np.zeros(2), bad=np.zeros(2, dtype=np.complex128))
np.savez(d + '/none.npz')
)PY";

struct NumpyFiles {
  std::string dir;
  NumpyFiles() {
    require_numpy();
    dir = test::temp_dir();
    REQUIRE(run_python(dir, "writer.py", numpy_writer, dir) == 0);
  }
  std::string operator()(const std::string& name) const { return dir + "/" + name; }
};

// Written once per process: starting Python with numpy costs most of a second here.
const NumpyFiles& numpy_files() {
  static const NumpyFiles files;
  return files;
}

}  // namespace

TEST_CASE("npy: reads every supported dtype and layout written by numpy") {
  const NumpyFiles& f = numpy_files();
  Array f32 = load_npy(f("f32.npy"));
  CHECK(f32.dtype() == DType::Float32);
  CHECK(f32.shape() == Shape{2, 3});
  CHECK(f32.to_double_vector() == V{1.5, -2.25, 3, 4, 5.5, -6});

  Array f64 = load_npy(f("f64.npy"));
  CHECK(f64.dtype() == DType::Float64);
  CHECK(f64.at<double>({0}) == 1.0 / 3.0);
  CHECK(f64.at<double>({1}) == -1e300);
  CHECK(std::isinf(f64.at<double>({2})));
  CHECK(std::isnan(f64.at<double>({3})));

  CHECK(load_npy(f("i64.npy")).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{-(1LL << 62), 0, (1LL << 53) + 1});
  CHECK(load_npy(f("i32.npy")).dtype() == DType::Int32);
  CHECK(load_npy(f("i32.npy")).to_double_vector() == V{-7, 70000});
  CHECK(load_npy(f("i16.npy")).to_double_vector() == V{-300, 300});
  CHECK(load_npy(f("i8.npy")).to_double_vector() == V{-128, 127});
  Array b = load_npy(f("bool.npy"));
  CHECK(b.dtype() == DType::Bool);
  CHECK(b.to_vector<bool>() == std::vector<bool>{true, false, false, true});
  Array u8 = load_npy(f("u8.npy"));
  CHECK(u8.dtype() == DType::UInt8);
  CHECK(u8.to_double_vector() == V{250, 251, 252, 253, 254, 255});

  Array scalar = load_npy(f("scalar.npy"));
  CHECK(scalar.rank() == 0);
  CHECK(scalar.item<double>() == 2.5);
  Array r3 = load_npy(f("rank3.npy"));
  CHECK(r3.shape() == Shape{2, 3, 4});
  CHECK(r3.at<std::int32_t>({1, 2, 3}) == 23);
  Array empty = load_npy(f("empty.npy"));
  CHECK(empty.shape() == Shape{0, 3});
  CHECK(empty.dtype() == DType::Float32);

  Array fortran = load_npy(f("fortran.npy"));
  CHECK(fortran.shape() == Shape{2, 3});
  CHECK(fortran.is_contiguous());
  CHECK(fortran.to_double_vector() == V{0, 1, 2, 3, 4, 5});
  CHECK(load_npy(f("big_f8.npy")).to_double_vector() == V{1.5, -2, 1e10});
  CHECK(load_npy(f("big_i4.npy")).to_double_vector() == V{1, -2, 70000});
  CHECK(load_npy(f("v2.npy")).to_double_vector() == V{1, 2});
  CHECK(load_npy(f("v3.npy")).to_double_vector() == V{1, 2});
}

TEST_CASE("npz: reads numpy.savez and numpy.savez_compressed archives") {
  const NumpyFiles& f = numpy_files();
  auto plain = load_npz(f("plain.npz"));
  REQUIRE(plain.size() == 2);
  CHECK(plain.at("a").to_double_vector() == V{0, 1, 2, 3, 4});
  CHECK(plain.at("a").dtype() == DType::Int64);
  CHECK(plain.at("b").shape() == Shape{1, 2});
  CHECK(plain.at("b").dtype() == DType::Float32);

  auto compressed = load_npz(f("compressed.npz"));
  REQUIRE(compressed.size() == 3);
  CHECK(allclose(compressed.at("x"), Array::linspace(0, 1, 1000, true, DType::Float64), 0, 0));
  CHECK(compressed.at("flag").item<bool>());
  CHECK(compressed.at("empty").shape() == Shape{2, 0});
  CHECK(load_npz(f("none.npz")).empty());
}

TEST_CASE("npy: files written here load in numpy, byte-identical to numpy.save") {
  require_numpy();
  const std::string dir = test::temp_dir();
  save_npy(dir + "/f32.npy", Array::from_list<float>({1.5f, -2.25f, 3, 4, 5.5f, -6}, {2, 3}));
  save_npy(dir + "/f64.npy", Array::from_list<double>({1.0 / 3.0, -1e300}));
  save_npy(dir + "/i64.npy", Array::from_list<std::int64_t>({-(1LL << 62), (1LL << 53) + 1}));
  save_npy(dir + "/i32.npy", Array::from_list<std::int32_t>({-7, 70000}));
  save_npy(dir + "/i16.npy", Array::from_list<std::int16_t>({-300, 300}));
  save_npy(dir + "/i8.npy", Array::from_list<std::int8_t>({-128, 127}));
  save_npy(dir + "/bool.npy", Array::from_list<bool>({true, false, false, true}, {2, 2}));
  save_npy(dir + "/u8.npy", Array::arange(250, 256, 1, DType::UInt8));
  save_npy(dir + "/scalar.npy", Array::scalar(2.5));
  save_npy(dir + "/rank3.npy", Array::arange(24, DType::Int32).reshape({2, 3, 4}));
  save_npy(dir + "/empty.npy", Array::zeros({0, 3}));
  // A transposed, negatively strided view is written in C order.
  save_npy(dir + "/view.npy",
           Array::arange(6, DType::Float64).reshape({2, 3}).transpose().slice(0, 10, -10, -1));
  save_npz(dir + "/plain.npz", {{"a", Array::arange(5)}, {"b", Array::ones({1, 2})}});
  save_npz(dir + "/compressed.npz",
           {{"x", Array::linspace(0, 1, 1000, true, DType::Float64)}, {"flag", Array::scalar(true)}},
           true);
  save_npz(dir + "/none.npz", {});

  const char* checker = R"PY(
import sys, io, zipfile, numpy as np
d = sys.argv[1]
def same_bytes(name, arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    got = open(d + '/' + name, 'rb').read()
    assert got == buf.getvalue(), (name, got[:128], buf.getvalue()[:128])
    loaded = np.load(d + '/' + name)
    assert loaded.dtype == arr.dtype and loaded.shape == arr.shape, (name, loaded.dtype, loaded.shape)
    assert np.array_equal(loaded, arr), (name, loaded)
same_bytes('f32.npy', np.array([[1.5, -2.25, 3.0], [4.0, 5.5, -6.0]], dtype=np.float32))
same_bytes('f64.npy', np.array([1/3, -1e300]))
same_bytes('i64.npy', np.array([-(2**62), 2**53 + 1], dtype=np.int64))
same_bytes('i32.npy', np.array([-7, 70000], dtype=np.int32))
same_bytes('i16.npy', np.array([-300, 300], dtype=np.int16))
same_bytes('i8.npy', np.array([-128, 127], dtype=np.int8))
same_bytes('bool.npy', np.array([[True, False], [False, True]]))
same_bytes('u8.npy', np.arange(250, 256, dtype=np.uint8))
same_bytes('scalar.npy', np.array(2.5))
same_bytes('rank3.npy', np.arange(24, dtype=np.int32).reshape(2, 3, 4))
same_bytes('empty.npy', np.zeros((0, 3), dtype=np.float32))
same_bytes('view.npy', np.ascontiguousarray(np.arange(6.0).reshape(2, 3).T[::-1]))
z = np.load(d + '/plain.npz')
assert sorted(z.files) == ['a', 'b'], z.files
assert np.array_equal(z['a'], np.arange(5)) and z['a'].dtype == np.int64
assert np.array_equal(z['b'], np.ones((1, 2), dtype=np.float32)) and z['b'].dtype == np.float32
assert all(i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile(d + '/plain.npz').infolist())
z = np.load(d + '/compressed.npz')
assert sorted(z.files) == ['flag', 'x'], z.files
assert np.array_equal(z['x'], np.linspace(0, 1, 1000)) and z['flag'].shape == () and z['flag']
assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zipfile.ZipFile(d + '/compressed.npz').infolist())
assert len(np.load(d + '/none.npz').files) == 0
)PY";
  CHECK(run_python(dir, "checker.py", checker, dir) == 0);
}

TEST_CASE("npy: in-memory round trips for every dtype") {
  for (DType dtype : all_dtypes) {
    INFO(dtype_name(dtype));
    Array a = Array::arange(-3, 9, 1, DType::Float64).reshape({3, 4}).astype(dtype);
    Array back = parse_npy(serialize_npy(a), "memory");
    CHECK(back.dtype() == dtype);
    CHECK(array_equal(back, a));
    const std::string bytes = serialize_npy(a);
    const std::size_t header_end = bytes.find('\n') + 1;
    CHECK(header_end % 64 == 0);  // numpy aligns the data to 64 bytes
  }
  Array scalar = parse_npy(serialize_npy(Array::scalar<std::int16_t>(-5)), "memory");
  CHECK(scalar.rank() == 0);
  CHECK(scalar.item<std::int16_t>() == -5);
}

TEST_CASE("npy: header parsing tolerates any valid Python dict spelling") {
  auto make = [](const std::string& dict, const std::string& data) {
    std::string header = dict + "\n";
    std::string out = "\x93NUMPY\x01";
    out += '\0';
    out += static_cast<char>(header.size() & 0xFF);
    out += static_cast<char>(header.size() >> 8);
    return out + header + data;
  };
  const std::string two_floats("\0\0\x80\x3f\0\0\0\x40", 8);  // 1.0f, 2.0f
  CHECK(parse_npy(make("{'descr':'<f4','fortran_order':False,'shape':(2,)}", two_floats), "m")
            .to_double_vector() == V{1, 2});
  CHECK(parse_npy(make("{ \"shape\" : ( 2 , 1 , ) , \"fortran_order\" : False , "
                       "\"descr\" : \"<f4\" , }",
                       two_floats),
                  "m")
            .shape() == Shape{2, 1});
  CHECK(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': [2L]}", two_floats),
                  "m")
            .to_double_vector() == V{1, 2});
  CHECK(parse_npy(make("{'descr': 'f4', 'fortran_order': False, 'shape': ()}", two_floats), "m")
            .item<float>() == 1.0f);
  CHECK_ERROR(parse_npy(make("{'descr': '<f4', 'fortran_order': Flase, 'shape': (2,)}", two_floats),
                        "in-memory"),
              {"in-memory", "malformed header"});
  CHECK_ERROR(parse_npy(make("{'descr': '<f4', 'shape': (2,)}", two_floats), "in-memory"),
              {"in-memory", "fortran_order"});
  CHECK_ERROR(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
                             two_floats),
                        "in-memory"),
              {"in-memory", "shape"});
  CHECK_ERROR(parse_npy(make("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", two_floats),
                        "in-memory"),
              {"in-memory", "fortran_order"});
  CHECK_ERROR(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': "
                             "(99999999999999999999,)}",
                             two_floats),
                        "in-memory"),
              {"in-memory", "out of range"});
  CHECK_ERROR(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': "
                             "(4294967296, 4294967296, 4294967296)}",
                             two_floats),
                        "in-memory"),
              {"in-memory", "too large"});
}

TEST_CASE("npy: every bad file raises an Error naming the file and the problem") {
  const NumpyFiles& f = numpy_files();
  const std::string dir = test::temp_dir();
  CHECK_ERROR(load_npy(dir + "/missing.npy"), {"missing.npy", "No such file"});
  CHECK_ERROR(load_npy(dir), {dir.c_str(), "directory"});
  write_file(dir + "/empty.npy", "");
  CHECK_ERROR(load_npy(dir + "/empty.npy"), {"empty.npy", "too short"});
  write_file(dir + "/magic.npy", "PK\x03\x04 this is not numpy at all");
  CHECK_ERROR(load_npy(dir + "/magic.npy"), {"magic.npy", "bad magic"});
  std::string good = read_file(f("f32.npy"));
  std::string v9 = good;
  v9[6] = 9;
  write_file(dir + "/v9.npy", v9);
  CHECK_ERROR(load_npy(dir + "/v9.npy"), {"v9.npy", "version 9.0"});
  write_file(dir + "/short_header.npy", good.substr(0, 40));
  CHECK_ERROR(load_npy(dir + "/short_header.npy"), {"short_header.npy", "header is truncated"});
  write_file(dir + "/short_data.npy", good.substr(0, good.size() - 4));
  CHECK_ERROR(load_npy(dir + "/short_data.npy"),
              {"short_data.npy", "data is truncated", "[2, 3]", "float32", "20 bytes"});
  CHECK_ERROR(load_npy(f("c8.npy")), {"c8.npy", "unsupported dtype '<c8'"});
  CHECK_ERROR(load_npy(f("f2.npy")), {"f2.npy", "unsupported dtype '<f2'"});
  CHECK_ERROR(load_npy(f("u2.npy")), {"u2.npy", "unsupported dtype '<u2'"});
  CHECK_ERROR(load_npy(f("str.npy")), {"str.npy", "unsupported dtype '<U3'"});
  CHECK_ERROR(load_npy(f("struct.npy")), {"struct.npy", "structured"});
  std::string bad_header = good;
  bad_header.replace(bad_header.find("False"), 5, "Flase");
  write_file(dir + "/bad_header.npy", bad_header);
  CHECK_ERROR(load_npy(dir + "/bad_header.npy"), {"bad_header.npy", "malformed header"});

  // Cut anywhere, a file fails cleanly; never a crash or a silently short array.
  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("cut at " << n);
    CHECK_ERROR(parse_npy(good.substr(0, n), "cut.npy"), {"cut.npy"});
  }
}

TEST_CASE("npz: bad archives raise an Error naming the file and the problem") {
  const NumpyFiles& f = numpy_files();
  const std::string dir = test::temp_dir();
  CHECK_ERROR(load_npz(dir + "/missing.npz"), {"missing.npz", "No such file"});
  CHECK_ERROR(load_npz(dir), {dir.c_str()});
  write_file(dir + "/garbage.npz", "this is not a zip archive, not even close");
  CHECK_ERROR(load_npz(dir + "/garbage.npz"), {"garbage.npz", "Not a zip archive"});
  const std::string plain = read_file(f("plain.npz"));
  write_file(dir + "/half.npz", plain.substr(0, plain.size() / 2));
  CHECK_ERROR(load_npz(dir + "/half.npz"), {"half.npz"});
  CHECK_ERROR(load_npz(f("with_complex.npz")),
              {"with_complex.npz", "bad.npy", "unsupported dtype '<c16'"});

  // A flipped byte inside a stored member's data (past a.npy's 128-byte header) breaks
  // its CRC.
  std::string corrupt = plain;
  const std::size_t data_at = corrupt.find("\x93NUMPY") + 130;
  corrupt[data_at] = static_cast<char>(corrupt[data_at] ^ 0x55);
  write_file(dir + "/corrupt.npz", corrupt);
  CHECK_ERROR(load_npz(dir + "/corrupt.npz"), {"corrupt.npz", "a.npy", "CRC error"});

  // The same for a deflated member.
  std::string deflated = read_file(f("compressed.npz"));
  deflated[deflated.size() / 3] = static_cast<char>(deflated[deflated.size() / 3] ^ 0xFF);
  write_file(dir + "/corrupt_deflate.npz", deflated);
  CHECK_ERROR(load_npz(dir + "/corrupt_deflate.npz"), {"corrupt_deflate.npz"});

  for (std::size_t n = 0; n < plain.size(); n += 37) {
    INFO("cut at " << n);
    write_file(dir + "/cut.npz", plain.substr(0, n));
    CHECK_ERROR(load_npz(dir + "/cut.npz"), {"cut.npz"});
  }

  CHECK_ERROR(save_npy(dir + "/no/such/dir/a.npy", Array::zeros({2})),
              {"no/such/dir/a.npy", "save_npy"});
  CHECK_ERROR(save_npz(dir + "/no/such/dir/a.npz", {{"a", Array::zeros({2})}}),
              {"no/such/dir/a.npz", "save_npz"});
  CHECK_ERROR(save_npz(dir + "/unnamed.npz", {{"", Array::zeros({2})}}),
              {"unnamed.npz", "empty name"});
}
