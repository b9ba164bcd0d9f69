// The in-process compiler (DESIGN.md §5), in the order a compile runs:
//   1. once per process: the Clang driver turns our flags into a CompilerInvocation, which
//      we then pin to the host CPU and features and strip of -disable-free;
//   2. per compile: a CompilerInstance runs EmitLLVMOnlyAction on the in-memory source with
//      LLVM passes disabled, so the only optimization is ours;
//   3. our PassBuilder O2/O3 pipeline with the host TargetMachine and a TargetLibraryInfo
//      that maps libm calls and math intrinsics to glibc libmvec vector functions;
//   4. object emission into memory.
// This is the only file that includes Clang headers (slow to compile: keep it that way).
#include "jit/compiler.hpp"

#include <clang/Basic/DiagnosticOptions.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/Frontend/Utils.h>
#include <dlfcn.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "jit/loader.hpp"
#include "runtime/error.hpp"

namespace cgvm::jit {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// What the driver sees. -O3 only tells the front end not to mark functions optnone; the
// optimization itself is our pipeline (DisableLLVMPasses below). Warnings are off: the
// source is generated, and nobody reads them at run time.
const std::vector<const char*>& driver_args() {
  static const std::vector<const char*> args = {
      CGVM_CLANG_EXECUTABLE, "-c", "-x", "c++", "-std=c++20", "-O3", "-fno-math-errno",
      "-ffp-contract=fast", "-fno-exceptions", "-fno-rtti", "-fPIC", "-w", kSourceName};
  return args;
}

// --- vector math ---------------------------------------------------------------------
// LLVM 19's libmvec table has only the SSE and AVX2 entries of a few functions and none
// for tanh. glibc (2.35+) has many more, in SSE (b), AVX2 (d) and AVX-512 (e) variants.
// We add every variant libmvec really exports and the host can run, for both the libm
// name and the llvm.* intrinsic name, since Clang emits intrinsics for __builtin_expf
// and friends under -fno-math-errno.
struct VectorIsa {
  char letter;
  int float_lanes;
  const char* feature;  // host feature required; nullptr: baseline x86-64
};
constexpr VectorIsa kIsas[] = {{'b', 4, nullptr}, {'d', 8, "avx2"}, {'e', 16, "avx512f"}};
constexpr const char* kUnary[] = {"acos", "acosh", "asin", "asinh", "atan",  "atanh",
                                  "cbrt", "cos",   "cosh", "erf",   "erfc",  "exp",
                                  "exp10", "exp2", "expm1", "log",  "log10", "log1p",
                                  "log2", "sin",   "sinh", "tan",   "tanh"};
constexpr const char* kBinary[] = {"atan2", "hypot", "pow"};

bool host_has(std::string_view feature) {
  const auto& f = host_target().features;
  return std::find(f.begin(), f.end(), "+" + std::string(feature)) != f.end();
}

// VecDesc keeps StringRefs, so the strings live here for the life of the process.
struct VectorMathTable {
  std::deque<std::string> strings;
  std::vector<llvm::VecDesc> entries;

  llvm::StringRef keep(std::string s) { return strings.emplace_back(std::move(s)); }

  void add(void* libmvec, const std::string& fn, bool binary) {
    for (const VectorIsa& isa : kIsas) {
      if (isa.feature && !host_has(isa.feature)) continue;
      for (bool is_float : {true, false}) {
        int lanes = is_float ? isa.float_lanes : isa.float_lanes / 2;
        std::string libm_name = fn + (is_float ? "f" : "");
        std::string params = binary ? "vv" : "v";
        std::string vector_name = std::string("_ZGV") + isa.letter + "N" +
                                  std::to_string(lanes) + params + "_" + libm_name;
        if (!::dlsym(libmvec, vector_name.c_str())) continue;
        llvm::StringRef vec = keep(vector_name);
        llvm::StringRef abi = keep("_ZGV_LLVM_N" + std::to_string(lanes) + params);
        auto vf = llvm::ElementCount::getFixed(static_cast<unsigned>(lanes));
        std::string intrinsic = "llvm." + fn + (is_float ? ".f32" : ".f64");
        entries.emplace_back(keep(libm_name), vec, vf, false, abi);
        entries.emplace_back(keep(intrinsic), vec, vf, false, abi);
      }
    }
  }
};

// --- the once-per-process state --------------------------------------------------------
struct Compiler {
  std::string error;  // non-empty: unavailable, and why
  std::shared_ptr<clang::CompilerInvocation> invocation;
  const llvm::Target* target = nullptr;
  llvm::Triple triple;
  VectorMathTable vector_math;
  // Built once; the analyses copy it per compile.
  std::unique_ptr<llvm::TargetLibraryInfoImpl> library_info;
};

std::shared_ptr<clang::CompilerInvocation> make_invocation(std::string& error) {
  std::string driver_text;
  llvm::raw_string_ostream driver_os(driver_text);
  auto diag_opts = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  clang::CreateInvocationOptions opts;
  opts.Diags = clang::CompilerInstance::createDiagnostics(
      diag_opts.get(), new clang::TextDiagnosticPrinter(driver_os, diag_opts.get()), true);
  std::shared_ptr<clang::CompilerInvocation> inv =
      clang::createInvocation(driver_args(), opts);
  if (!inv) {
    error = "the Clang driver rejected the JIT flags: " + driver_text;
    return nullptr;
  }
  const HostTarget& host = host_target();
  // The driver's default is baseline x86-64 (SSE2), 2-7x slower on our kernels.
  inv->getTargetOpts().Triple = host.triple;
  inv->getTargetOpts().CPU = host.cpu;
  inv->getTargetOpts().TuneCPU = host.cpu;
  inv->getTargetOpts().Features = host.features;
  inv->getCodeGenOpts().DisableLLVMPasses = true;
  // The driver asks the front end to leak its ASTs at exit (a cc1 process dies anyway);
  // in a long-lived process that leaks every compile.
  inv->getFrontendOpts().DisableFree = false;
  inv->getCodeGenOpts().DisableFree = false;
  inv->getDiagnosticOpts().ShowColors = false;
  return inv;
}

Compiler& compiler() {
  static Compiler* state = [] {
    auto* c = new Compiler;  // leaked: compiles may run during static destruction
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    c->triple = llvm::Triple(host_target().triple);
    std::string lookup_error;
    c->target = llvm::TargetRegistry::lookupTarget(host_target().triple, lookup_error);
    if (!c->target) {
      c->error = "no LLVM target for " + host_target().triple + ": " + lookup_error;
      return c;
    }
    c->invocation = make_invocation(c->error);
    if (void* libmvec = libmvec_handle()) {
      for (const char* fn : kUnary) c->vector_math.add(libmvec, fn, false);
      for (const char* fn : kBinary) c->vector_math.add(libmvec, fn, true);
    }
    c->library_info = std::make_unique<llvm::TargetLibraryInfoImpl>(c->triple);
    c->library_info->addVectorizableFunctionsFromVecLib(
        llvm::TargetLibraryInfoImpl::LIBMVEC_X86, c->triple);
    c->library_info->addVectorizableFunctions(c->vector_math.entries);
    return c;
  }();
  return *state;
}

llvm::OptimizationLevel pass_level(int opt_level) {
  switch (opt_level) {
    case 0: return llvm::OptimizationLevel::O0;
    case 1: return llvm::OptimizationLevel::O1;
    case 2: return llvm::OptimizationLevel::O2;
    default: return llvm::OptimizationLevel::O3;
  }
}

llvm::CodeGenOptLevel codegen_level(int opt_level) {
  switch (opt_level) {
    case 0: return llvm::CodeGenOptLevel::None;
    case 1: return llvm::CodeGenOptLevel::Less;
    case 2: return llvm::CodeGenOptLevel::Default;
    default: return llvm::CodeGenOptLevel::Aggressive;
  }
}

// One TargetMachine per compile: codegen mutates target state, and creating one is cheap
// next to a compile.
std::unique_ptr<llvm::TargetMachine> make_target_machine(const Compiler& c, int opt_level) {
  llvm::TargetOptions options;
  options.AllowFPOpFusion = llvm::FPOpFusion::Fast;  // -ffp-contract=fast
  options.UseInitArray = true;
  const HostTarget& host = host_target();
  return std::unique_ptr<llvm::TargetMachine>(c.target->createTargetMachine(
      host.triple, host.cpu, host.feature_string(), options, llvm::Reloc::PIC_,
      llvm::CodeModel::Small, codegen_level(opt_level)));
}

std::unique_ptr<llvm::Module> run_front_end(const Compiler& c, const std::string& source,
                                            llvm::LLVMContext& context) {
  auto inv = std::make_shared<clang::CompilerInvocation>(*c.invocation);
  inv->getFrontendOpts().Inputs.clear();
  inv->getFrontendOpts().Inputs.emplace_back(llvm::MemoryBufferRef(source, kSourceName),
                                             clang::InputKind(clang::Language::CXX));
  std::string diagnostics;
  llvm::raw_string_ostream diag_os(diagnostics);
  clang::CompilerInstance ci;
  ci.setInvocation(inv);
  ci.createDiagnostics(new clang::TextDiagnosticPrinter(diag_os, &inv->getDiagnosticOpts()),
                       true);
  // Clang prints "1 error generated." here; keep it with the diagnostics.
  ci.setVerboseOutputStream(diag_os);
  clang::EmitLLVMOnlyAction action(&context);
  bool ok = ci.ExecuteAction(action);
  std::unique_ptr<llvm::Module> module = ok ? action.takeModule() : nullptr;
  if (!module)
    throw Error("jit: the generated C++ source does not compile:\n" + diagnostics);
  return module;
}

void optimize(llvm::Module& module, llvm::TargetMachine& tm,
              const llvm::TargetLibraryInfoImpl& tlii, int opt_level) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = opt_level >= 2;
  tuning.SLPVectorization = opt_level >= 2;
  // No loop unrolling: the vectorizer's interleaving and the generated code's own blocking
  // (reduction lanes) give the speed; the unroller only multiplied code size. Measured on
  // the MLP training step's 30 kernels: 1.56 s -> 0.64 s to compile, same run time.
  tuning.LoopUnrolling = false;
  llvm::PassBuilder builder(&tm, tuning);
  // Registered before the defaults so the vector-math-aware library info wins.
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager passes =
      opt_level == 0 ? builder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0)
                     : builder.buildPerModuleDefaultPipeline(pass_level(opt_level));
  passes.run(module, mam);
}

std::string emit_object(llvm::Module& module, llvm::TargetMachine& tm,
                        const llvm::TargetLibraryInfoImpl& tlii) {
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream os(bytes);
  llvm::legacy::PassManager codegen;
  codegen.add(new llvm::TargetLibraryInfoWrapperPass(tlii));
  if (tm.addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::ObjectFile))
    throw InternalError("jit: the host target cannot emit object files");
  codegen.run(module);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

std::string HostTarget::feature_string() const {
  std::string joined;
  for (const std::string& f : features) {
    if (!joined.empty()) joined += ',';
    joined += f;
  }
  return joined;
}

std::string HostTarget::id() const { return triple + " " + cpu + " " + feature_string(); }

const HostTarget& host_target() {
  static const HostTarget host = [] {
    HostTarget t;
    t.triple = llvm::sys::getProcessTriple();
    t.cpu = llvm::sys::getHostCPUName().str();
    for (const auto& f : llvm::sys::getHostCPUFeatures())
      t.features.push_back((f.second ? "+" : "-") + f.first().str());
    std::sort(t.features.begin(), t.features.end());
    return t;
  }();
  return host;
}

bool in_process_compiler_available(std::string* why) {
  const Compiler& c = compiler();
  if (why) *why = c.error;
  return c.error.empty();
}

const std::string& in_process_flags() {
  static const std::string flags = [] {
    std::string s;
    for (const char* arg : driver_args()) s += std::string(arg) + " ";
    return s + "| pic small fp-fusion=fast init-array libmvec";
  }();
  return flags;
}

std::string compile_to_object(const std::string& source, int opt_level, StageTimes& times) {
  const Compiler& c = compiler();
  if (!c.error.empty()) throw Error("jit: the in-process compiler is unavailable: " + c.error);
  opt_level = std::clamp(opt_level, 0, 3);

  auto start = Clock::now();
  llvm::LLVMContext context;  // per compile: contexts are not thread-safe
  std::unique_ptr<llvm::Module> module = run_front_end(c, source, context);
  times.frontend_ms = ms_since(start);

  start = Clock::now();
  std::unique_ptr<llvm::TargetMachine> tm = make_target_machine(c, opt_level);
  if (!tm) throw InternalError("jit: cannot create a TargetMachine for " + c.triple.str());
  module->setDataLayout(tm->createDataLayout());
  optimize(*module, *tm, *c.library_info, opt_level);
  times.optimize_ms = ms_since(start);

  start = Clock::now();
  std::string object = emit_object(*module, *tm, *c.library_info);
  times.codegen_ms = ms_since(start);
  return object;
}

}  // namespace cgvm::jit
