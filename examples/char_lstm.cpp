// A character-level LSTM language model (in the manner of Karpathy's char-rnn) trained on
// the Shakespeare text shipped in examples/data (see its README for provenance), then asked
// to write some Shakespeare of its own.
//
//   example_char_lstm [--steps N] [--quick] [--seed S] [--data path/to/text]
//                     [--hidden H] [--seq L] [--batch B] [--lr R] [--print-every N]
//                     [--sample-length N] [--temperature T] [--check]
//                     [--device cpu|cuda|cuda:N]
//
// The model reads one character at a time and predicts the next one:
//   x_t      the id of character t (the vocabulary is the set of characters in the text);
//   gates    x_t W_x + h_{t-1} W_h + b, split into i, f, g, o (W_x: [V, 4H], W_h: [H, 4H]);
//            a one-hot x_t times W_x is row x_t of W_x, so the input projection is a lookup;
//   c_t      sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g);   h_t = sigmoid(o) * tanh(c_t);
//   p_t      softmax(h_t W_y + b_y), the distribution of character t+1.
// The loop over time is a scan(); its gradient (backpropagation through time) is grad()'s.
//
// Training: the text is cut into `batch` streams read side by side, `seq` characters at a
// time (truncated backpropagation through time): the LSTM state at the end of one chunk is
// the initial state of the next (it lives in shared variables that the training function
// updates), but gradients stop at the chunk boundary. One compiled function does a whole
// step: forward, softmax cross-entropy of the next character, gradients, clipping, and Adam
// updates of the weights, the moments and the carried state. Every --print-every steps it
// prints the mean loss (nats per character) of those steps: ln(62) = 4.13 at first (a
// uniform guess), 3.31 for a model that knows only how frequent each character is, about
// 1.7 after 1000 steps and 1.4 after the default 5000 (two minutes on two cores).
//
// Then a second compiled function runs one LSTM step for one character, and the program
// samples --sample-length characters from the model, starting after a newline.
//
// --quick is a short run for the tests (a small model, 100 steps, about a second). With
// --check the program exits with status 1 unless the loss stayed finite, fell by at least
// 0.5 and ended below the character-frequency entropy (so the model uses the context), and
// the sample has the requested length and only characters of the text.
//
// With --device cuda both functions run on the GPU: the weights, the Adam moments and the
// carried state live there, the embedding lookup gathers rows of W_x there and its
// gradient scatters them back; each step moves the target ids and the looked-up rows'
// numbers over (the input ids stay on the host, where they are checked) and the loss back.
#include <cgvm.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace cgvm;

#ifndef CGVM_EXAMPLES_DATA_DIR
#define CGVM_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace {

struct Settings {
  int steps = 5000;
  std::uint64_t seed = 1;
  std::string data = std::string(CGVM_EXAMPLES_DATA_DIR) + "/shakespeare.txt";
  std::int64_t hidden = 128, seq = 50, batch = 32;
  double learning_rate = 5e-3;
  int print_every = 100;
  int sample_length = 200;
  double temperature = 0.8;
  bool check = false;
  Device device = Device::cpu();
};

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << flag << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--quick") {  // the test's settings; flags after it still apply
      s.steps = 100, s.hidden = 64, s.seq = 25, s.batch = 16, s.learning_rate = 1e-2;
      s.print_every = 20, s.sample_length = 80;
    } else if (flag == "--check") s.check = true;
    else if (flag == "--steps") s.steps = std::stoi(value());
    else if (flag == "--seed") s.seed = std::stoull(value());
    else if (flag == "--data") s.data = value();
    else if (flag == "--hidden") s.hidden = std::stoll(value());
    else if (flag == "--seq") s.seq = std::stoll(value());
    else if (flag == "--batch") s.batch = std::stoll(value());
    else if (flag == "--lr") s.learning_rate = std::stod(value());
    else if (flag == "--print-every") s.print_every = std::stoi(value());
    else if (flag == "--sample-length") s.sample_length = std::stoi(value());
    else if (flag == "--temperature") s.temperature = std::stod(value());
    else if (flag == "--device") s.device = Device::parse(value());
    else {
      std::cerr << "unknown flag " << flag << "\n";
      std::exit(2);
    }
  }
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The characters of the text, sorted, and the text as ids into that list.
struct Corpus {
  std::string vocabulary;
  std::vector<std::int64_t> ids;
  std::int64_t id_of[256];
  double unigram_entropy = 0;  // nats per character when predicting by frequency alone
};

Corpus read_corpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(2);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  Corpus corpus;
  bool seen[256] = {};
  for (unsigned char ch : text) seen[ch] = true;
  for (int ch = 0; ch < 256; ++ch) {
    corpus.id_of[ch] = seen[ch] ? static_cast<std::int64_t>(corpus.vocabulary.size()) : -1;
    if (seen[ch]) corpus.vocabulary.push_back(static_cast<char>(ch));
  }
  corpus.ids.reserve(text.size());
  std::vector<double> count(corpus.vocabulary.size());
  for (unsigned char ch : text) {
    corpus.ids.push_back(corpus.id_of[ch]);
    count[static_cast<std::size_t>(corpus.id_of[ch])] += 1;
  }
  for (double n : count) {
    const double p = n / static_cast<double>(text.size());
    corpus.unigram_entropy -= p * std::log(p);
  }
  return corpus;
}

// One LSTM step: x_proj is x_t W_x + b (already looked up), h and c the previous state.
std::pair<Var, Var> lstm_cell(const Var& x_proj, const Var& h, const Var& c, const Var& w_h,
                              std::int64_t hidden) {
  Var pre = x_proj + dot(h, w_h);  // [batch, 4H]
  auto gate = [&](std::int64_t k) { return pre(slice(), slice(k * hidden, (k + 1) * hidden)); };
  Var i = sigmoid(gate(0)), f = sigmoid(gate(1)), g = tanh(gate(2)), o = sigmoid(gate(3));
  Var c_next = f * c + i * g;
  return {o * tanh(c_next), c_next};
}

}  // namespace

int run(const Settings& s) {
  const Corpus corpus = read_corpus(s.data);
  const std::int64_t V = static_cast<std::int64_t>(corpus.vocabulary.size());
  const std::int64_t H = s.hidden, L = s.seq, B = s.batch;
  const std::int64_t stream_length = (static_cast<std::int64_t>(corpus.ids.size()) - 1) / B;
  const std::int64_t chunks_per_epoch = stream_length / L;
  if (chunks_per_epoch < 1) {
    std::cerr << "the text is too short for batch " << B << " and seq " << L << "\n";
    return 2;
  }
  std::cout << "text: " << corpus.ids.size() << " characters, vocabulary " << V
            << " (uniform guess: loss " << std::fixed << std::setprecision(2)
            << std::log(static_cast<double>(V)) << "; by character frequency alone: "
            << corpus.unigram_entropy << ")\n"
            << "LSTM hidden " << H << ", seq " << L << ", batch " << B << ", "
            << chunks_per_epoch << " steps per epoch\n";

  // Parameters, initialised with the seed. The forget gate's bias starts at 1, a common
  // choice that lets the cell remember from the start.
  Generator gen(s.seed);
  const double k = 1.0 / std::sqrt(static_cast<double>(H));
  Array bias = Array::zeros({4 * H});
  for (std::int64_t j = H; j < 2 * H; ++j) bias.set<float>({j}, 1.0f);
  auto w_x = shared(Array::uniform(gen, {V, 4 * H}, -k, k), "w_x");
  auto w_h = shared(Array::uniform(gen, {H, 4 * H}, -k, k), "w_h");
  auto b = shared(bias, "b");
  auto w_y = shared(Array::uniform(gen, {H, V}, -k, k), "w_y");
  auto b_y = shared(Array::zeros({V}), "b_y");
  const std::vector<SharedVar> params{w_x, w_h, b, w_y, b_y};

  // The LSTM state carried from one chunk to the next, one row per stream.
  auto h0 = shared(Array::zeros({B, H}), "h0");
  auto c0 = shared(Array::zeros({B, H}), "c0");

  // The training graph. xs and ys are [seq, batch] ids: scan walks the first axis.
  Var xs = matrix("xs", int64), ys = matrix("ys", int64);
  Var x_proj = take(w_x, xs) + b;  // [seq, batch, 4H]: every step's input projection
  std::vector<Var> states = scan(
      [&](const StepArgs& v) -> StepResult {  // v: x_proj[t], h_{t-1}, c_{t-1}, w_h
        auto [h, c] = lstm_cell(v[0], v[1], v[2], v[3], H);
        return std::vector<Var>{h, c};
      },
      {.sequences = {x_proj}, .outputs_info = {h0, c0}, .non_sequences = {w_h}, .name = "lstm"});
  Var hs = states[0], cs = states[1];  // [seq, batch, H]
  Var logits = dot(hs.reshape({-1, H}), w_y) + b_y;  // [seq * batch, V]
  Var loss = categorical_crossentropy(softmax(logits), ys.reshape({-1})).mean();

  // Adam (Kingma & Ba) on the gradients clipped to [-5, 5]; the bias correction is folded
  // into the step size.
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  auto t = shared(Array::scalar<float>(0), "adam_t");
  Var t_next = t + 1;
  Var step_size = s.learning_rate * sqrt(1 - pow(beta2, t_next)) / (1 - pow(beta1, t_next));
  std::vector<Var> grads = grad(loss, std::vector<Var>(params.begin(), params.end()));
  Replacements updates{{t, t_next}, {h0, hs[Index(-1)]}, {c0, cs[Index(-1)]}};
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Shape shape = params[i].get_value().shape();
    auto m = shared(Array::zeros(shape), params[i].name() + "_m");
    auto v = shared(Array::zeros(shape), params[i].name() + "_v");
    Var g = clip(grads[i], -5.0, 5.0);
    Var m_next = beta1 * m + (1 - beta1) * g;
    Var v_next = beta2 * v + (1 - beta2) * sqr(g);
    updates.emplace_back(m, m_next);
    updates.emplace_back(v, v_next);
    updates.emplace_back(params[i], params[i] - step_size * m_next / (sqrt(v_next) + eps));
  }
  auto clock = std::chrono::steady_clock::now();
  Function train_step = function(
      {xs, ys}, {loss}, {.updates = updates, .name = "train", .device = s.device});
  std::cout << "compiled the training step in " << std::fixed << std::setprecision(2)
            << seconds_since(clock) << " s, on " << s.device.str() << "\n";

  // Training. Chunk k of stream j covers characters j * stream_length + k * seq + [0, seq).
  std::vector<std::int64_t> x(static_cast<std::size_t>(L * B)), y(x.size());
  std::vector<double> printed;  // the mean loss of each printing period
  double period_total = 0;
  int period_steps = 0;
  bool finite = true;
  clock = std::chrono::steady_clock::now();
  for (int step = 1; step <= s.steps; ++step) {
    const std::int64_t chunk = (step - 1) % chunks_per_epoch;
    if (chunk == 0) {  // a new pass over the text starts from a zero state
      h0.set_value(Array::zeros({B, H}));
      c0.set_value(Array::zeros({B, H}));
    }
    for (std::int64_t tt = 0; tt < L; ++tt)
      for (std::int64_t j = 0; j < B; ++j) {
        const std::size_t at = static_cast<std::size_t>(j * stream_length + chunk * L + tt);
        x[static_cast<std::size_t>(tt * B + j)] = corpus.ids[at];
        y[static_cast<std::size_t>(tt * B + j)] = corpus.ids[at + 1];
      }
    const double step_loss =
        Array(train_step(Array::from_vector(x, {L, B}), Array::from_vector(y, {L, B})))
            .item<double>();
    finite = finite && std::isfinite(step_loss);
    period_total += step_loss;
    ++period_steps;
    if (step % s.print_every == 0 || step == s.steps) {
      printed.push_back(period_total / period_steps);
      std::cout << "step " << step << " loss " << std::setprecision(3) << printed.back() << "  ("
                << std::setprecision(0) << 1000 * seconds_since(clock) / step << " ms/step)\n";
      period_total = 0, period_steps = 0;
    }
  }
  const double train_seconds = seconds_since(clock);
  std::cout << "trained " << s.steps << " steps in " << std::setprecision(1) << train_seconds
            << " s\n";

  // Sampling: one LSTM step for one character, compiled on its own; the weights are the
  // trained shared variables. The next character is drawn from softmax(logits / T).
  Var id = vector("id", int64), h = matrix("h"), c = matrix("c");
  Var temperature = scalar("temperature");
  auto [h_next, c_next] = lstm_cell(take(w_x, id) + b, h, c, w_h, H);
  Var probs = softmax((dot(h_next, w_y) + b_y) / temperature);
  Function sample_step =
      function({id, h, c, temperature}, {probs, h_next, c_next},
               {.name = "sample_step", .device = s.device});
  Array state_h = Array::zeros({1, H}), state_c = Array::zeros({1, H});
  std::int64_t current = corpus.id_of[static_cast<unsigned char>('\n')];
  if (current < 0) current = 0;
  std::string sample;
  for (int n = 0; n < s.sample_length; ++n) {
    Outputs out = sample_step(Array::from_vector<std::int64_t>({current}), state_h, state_c,
                              Array::scalar<float>(static_cast<float>(s.temperature)));
    state_h = out[1], state_c = out[2];
    const std::vector<double> p = out[0].to_double_vector();
    double u = gen.next_double(), cumulative = 0;
    current = V - 1;
    for (std::int64_t j = 0; j < V; ++j) {
      cumulative += p[static_cast<std::size_t>(j)];
      if (u < cumulative) {
        current = j;
        break;
      }
    }
    sample.push_back(corpus.vocabulary[static_cast<std::size_t>(current)]);
  }
  std::cout << "sample:\n" << sample << "\n";

  if (!s.check) return 0;
  bool ok = true;
  auto fail = [&](const std::string& why) {
    std::cerr << "check failed: " << why << "\n";
    ok = false;
  };
  if (!finite) fail("a training loss was not finite");
  if (printed.size() < 2) fail("need at least two printed losses (--steps > --print-every)");
  else if (!(printed.back() < printed.front() - 0.5))
    fail("the loss did not fall by 0.5 (from " + std::to_string(printed.front()) + " to " +
         std::to_string(printed.back()) + ")");
  else if (!(printed.back() < corpus.unigram_entropy))
    fail("the loss " + std::to_string(printed.back()) +
         " is not below the character-frequency entropy " +
         std::to_string(corpus.unigram_entropy));
  if (static_cast<int>(sample.size()) != s.sample_length)
    fail("the sample has " + std::to_string(sample.size()) + " characters, expected " +
         std::to_string(s.sample_length));
  for (unsigned char ch : sample)
    if (corpus.id_of[ch] < 0) fail("the sample has a character not in the text");
  if (ok) std::cout << "check passed\n";
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const Error& e) {  // a bad --device, or no GPU for --device cuda: say so
    std::cerr << "example_char_lstm: " << e.what() << "\n";
    return 1;
  }
}
