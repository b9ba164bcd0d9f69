#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "runtime/array.hpp"
#include "support.hpp"

using namespace cgvm;

TEST_CASE("array: printing") {
  CHECK(Array::from_list<float>({1, 2.5f, 3, 4, 5, 6}, {2, 3}).to_string() ==
        "[[1. , 2.5, 3. ],\n [4. , 5. , 6. ]]");
  CHECK(Array::from_list<std::int32_t>({1, -20, 3, 4, 5, 6}, {2, 3}).to_string() ==
        "[[  1, -20,   3],\n [  4,   5,   6]]");
  CHECK(Array::from_list<bool>({true, false}).to_string() == "[ True, False]");
  CHECK(Array::scalar(true).to_string() == "True");
  CHECK(Array::scalar(1.5).to_string() == "1.5");
  CHECK(Array::zeros({2, 0}).to_string() == "[]");
  CHECK(Array::from_list<double>({1e-5, 1e10}).to_string() == "[1.e-05, 1.e+10]");
  CHECK(Array::from_list<double>({1.5e-5, 1e10}).to_string() == "[1.5e-05, 1.0e+10]");
  CHECK(Array::from_list<double>({std::nan(""), 1, -std::numeric_limits<double>::infinity()})
            .to_string() == "[ nan,   1., -inf]");
  CHECK(Array::from_list<float>({0.1f, 1.0f / 3}).to_string() == "[0.1       , 0.33333334]");
  CHECK(Array::from_list<double>({-0.0, 1}).to_string() == "[-0.,  1.]");
  CHECK(Array::arange(30, DType::Float64).to_string() ==
        "[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13., 14.,\n"
        " 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27., 28., 29.]");
  CHECK(Array::arange(24).reshape({2, 3, 4}).to_string() ==
        "[[[ 0,  1,  2,  3],\n  [ 4,  5,  6,  7],\n  [ 8,  9, 10, 11]],\n\n"
        " [[12, 13, 14, 15],\n  [16, 17, 18, 19],\n  [20, 21, 22, 23]]]");
  CHECK(Array::arange(2000, DType::Float64).reshape({2, 1000}).to_string() ==
        "[[0.000e+00, 1.000e+00, 2.000e+00, ..., 9.970e+02, 9.980e+02, 9.990e+02],\n"
        " [1.000e+03, 1.001e+03, 1.002e+03, ..., 1.997e+03, 1.998e+03, 1.999e+03]]");
  CHECK(Array::arange(1001).to_string() == "[   0,    1,    2, ...,  998,  999, 1000]");
  std::ostringstream os;
  os << Array::arange(3);
  CHECK(os.str() == "[0, 1, 2]");
}

TEST_CASE("array: printing matches numpy.array2string") {
  // The same arrays printed by numpy itself, compared line for line.
  const std::string dir = test::temp_dir();
  const std::string script = dir + "/print.py";
  {
    std::ofstream out(script);
    out << "import numpy as np, sys\n"
           "arrays = [np.linspace(-1, 1, 7), np.float32([[1e-3, 2], [3.25, -4]]),\n"
           "          np.array([123456789.0, 1.5]), np.array([1e-100, 1.0]),\n"
           "          np.arange(-50, 50, dtype=np.int16).reshape(4, 25), np.eye(3)[::-1],\n"
           "          np.arange(4000.0).reshape(2, 2, 1000) / 7,\n"
           "          np.float32([0.1, -0.3, 1.00910565e-05])]\n"
           "with open(sys.argv[1], 'w') as f:\n"
           "    for a in arrays:\n"
           "        f.write(np.array2string(a, separator=', ') + '\\n@@\\n')\n";
  }
  REQUIRE_MESSAGE(test::run_shell(std::string(CGVM_SYSTEM_PYTHON) + " " + script + " " + dir +
                                  "/expected.txt") == 0,
                  "needs " CGVM_SYSTEM_PYTHON " with numpy (apt install python3-numpy)");
  std::ifstream in(dir + "/expected.txt");
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> expected;
  std::string all = text.str();
  for (std::size_t pos = 0, next; (next = all.find("\n@@\n", pos)) != std::string::npos;
       pos = next + 4)
    expected.push_back(all.substr(pos, next - pos));
  REQUIRE(expected.size() == 8);
  std::vector<Array> ours = {
      Array::linspace(-1, 1, 7, true, DType::Float64),
      Array::from_list<float>({1e-3f, 2, 3.25f, -4}, {2, 2}),
      Array::from_list<double>({123456789.0, 1.5}),
      Array::from_list<double>({1e-100, 1.0}),
      Array::arange(-50, 50, 1, DType::Int16).reshape({4, 25}),
      Array::eye(3, -1, 0, DType::Float64).slice(0, 2, -10, -1),
  };
  std::vector<double> sevenths = Array::arange(4000, DType::Float64).to_double_vector();
  for (double& x : sevenths) x /= 7;
  ours.push_back(Array::from_vector(sevenths, {2, 2, 1000}));
  // float32 in scientific mode: padding digits are the exact ones, not zeros.
  ours.push_back(Array::from_list<float>({0.1f, -0.3f, 1.00910565e-05f}));
  for (std::size_t i = 0; i < ours.size(); ++i) {
    INFO("case " << i);
    CHECK(ours[i].to_string() == expected[i]);
  }
}
