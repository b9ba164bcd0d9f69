// Built against an installed cgvm: checks the headers, the exported targets and a call.
#include <cgvm.hpp>

#include <iostream>

int main() {
  using namespace cgvm;
  Var x = vector("x");
  auto f = function({x}, {(x * 2).sum()});
  Array out = f(Array::from_list<float>({1, 2, 3}));
  if (out.item<float>() != 12) {
    std::cerr << "unexpected result " << out << "\n";
    return 1;
  }
  std::cout << "consumer ok\n";
  return 0;
}
