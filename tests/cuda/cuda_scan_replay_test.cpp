// Scan on a device runs its steps after the first as one recording, replayed
// (DeviceContext::record, Executor's replay of a loop): the recording and the step copies on
// the emulated GPU, and whole loops against the CPU: taps, backward sequences, map outputs,
// states kept as their last value only, rows of every unit size; the bodies a recording
// cannot hold run step by step with the same results.
#include <cmath>
#include <thread>

#include "cuda_helpers.hpp"
#include "emulated_gpu.hpp"

namespace cgvm::test {
namespace {

const Device gpu = Device::cuda();

// The emulated GPU's counters around one stretch of work.
struct Counts {
  int recordings = 0, replays = 0, launches = 0;
  static Counts of(const EmulatedGpu& g) { return {g.recordings, g.replays, g.launches}; }
  Counts operator-(const Counts& o) const {
    return {recordings - o.recordings, replays - o.replays, launches - o.launches};
  }
};

// f on the device against the CPU, output by output; returns what the device call did.
Counts check_against_cpu(EmulatedGpu& g, const std::vector<Var>& inputs,
                         const std::vector<Var>& outputs, const std::vector<Value>& values) {
  const Outputs want = function(inputs, outputs)(values);
  Function f = function(inputs, outputs, {.device = gpu});
  const Counts before = Counts::of(g);
  const Outputs got = f(values);
  const Counts done = Counts::of(g) - before;
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("output " << i);
    CHECK(got[i].device() == gpu);
    CHECK(got[i].shape() == want[i].shape());
    CHECK(allclose(got[i].to_host(), want[i], 1e-5, 1e-6));
  }
  return done;
}

TEST_SUITE("cuda") {
  TEST_CASE("device recording: work is kept and replayed; read-backs are refused") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    const auto context = std::static_pointer_cast<DeviceContext>(emulated.context());
    Array acc = to_device(Array::zeros({5}), gpu), other = to_device(Array::zeros({5}), gpu);
    const Array one = to_device(Array::full({5}, 1.0), gpu);
    const long long allocations = g.live_allocations;
    {
      std::unique_ptr<DeviceRecording> r = context->record([&] {
        // A temporary made and dropped while recording: its memory stays until the
        // recording goes, as the recorded work reads it.
        Array copy = one.new_empty(one.shape(), one.dtype());
        context->convert(copy, one);
        context->accumulate(acc, copy);
        // Another thread's work meanwhile runs, and is not recorded.
        std::thread([&] { context->accumulate(other, one); }).join();
      });
      REQUIRE(r);
      CHECK(g.live_allocations == allocations + 1);
      CHECK(array_equal(acc.to_host(), Array::zeros({5})));  // recorded, not run
      CHECK(array_equal(other.to_host(), Array::full({5}, 1.0)));
      for (int i = 0; i < 3; ++i) r->replay();
      CHECK(array_equal(acc.to_host(), Array::full({5}, 3.0)));
      CHECK(array_equal(other.to_host(), Array::full({5}, 1.0)));
    }
    CHECK(g.live_allocations == allocations);
    CHECK(g.recordings == 1);
    CHECK(g.replays == 3);

    // Reading back, waiting or copying from the host cannot be recorded: NotRecordable,
    // and nothing is kept.
    Array host(Array::zeros({5}));
    CHECK_THROWS_AS(context->record([&] { (void)acc.to_host(); }), NotRecordable);
    CHECK_THROWS_AS(context->record([&] { context->synchronize(); }), NotRecordable);
    CHECK_THROWS_AS(context->record([&] { acc.assign(host); }), NotRecordable);
    CHECK(g.recordings == 1);
    CHECK(g.live_allocations == allocations);
    // And the context works as before.
    acc.assign(host);
    CHECK(array_equal(acc.to_host(), host));
  }

  TEST_CASE("device recording: lookups of device rows note an index out of range on each "
            "replay") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    const auto context = std::static_pointer_cast<DeviceContext>(emulated.context());
    const Array x = to_device(Array::uniform(1, {4, 3}, 1, 2), gpu);
    const Array rows = to_device(Array::from_list<std::int64_t>({-1, 5, 0}), gpu);
    Array out = to_device(Array::full({3, 3}, 7.0), gpu);
    Array sums = to_device(Array::zeros({4, 3}), gpu);
    const Array ones = to_device(Array::ones({3, 3}), gpu);
    // A call's note, and another call's (their words made outside the recording).
    DeviceFaultNote note, other;
    note.words(*context);
    other.words(*context);
    CHECK(!context->index_fault(note));  // nothing queued: no wait
    const int reads = g.fault_reads;
    std::unique_ptr<DeviceRecording> r = context->record([&] {
      context->gather(out, x, rows, 0, {&note, 77});
      context->scatter(sums, ones, rows, 0, false, {&note, 78});
    });
    REQUIRE(r);
    CHECK(!context->index_fault(note));  // recorded, not run
    CHECK(g.fault_reads == reads);
    for (int replay = 0; replay < 2; ++replay) {
      INFO("replay " << replay);
      r->replay();
      const std::optional<DeviceIndexFault> fault = context->index_fault(note);
      REQUIRE(fault);
      CHECK(fault->site == 77);  // the first kernel's
      CHECK(fault->index == 5);
      CHECK(fault->size == 4);
      CHECK(fault->position == 1);
      CHECK(!context->index_fault(note));  // read and cleared
      CHECK(!context->index_fault(other));  // another call's: nothing queued for it
      // The rows in range are looked up; the one out of range reads zeros, writes nothing.
      const Array got = out.to_host(), want_x = x.to_host();
      CHECK(array_equal(got.index(0, 0), want_x.index(0, 3)));
      CHECK(array_equal(got.index(0, 1), Array::zeros({3})));
      CHECK(array_equal(got.index(0, 2), want_x.index(0, 0)));
      const Array want_sums = Array::from_list<double>(
          {1.0 + replay, 1.0 + replay, 1.0 + replay, 0, 0, 0, 0, 0, 0, 1.0 + replay,
           1.0 + replay, 1.0 + replay},
          {4, 3});
      CHECK(array_equal(sums.to_host(), want_sums));
    }
    // What another call's lookups meet is noted for it alone.
    context->gather(out, x, rows, 0, {&other, 79});
    CHECK(!context->index_fault(note));
    const std::optional<DeviceIndexFault> theirs = context->index_fault(other);
    REQUIRE(theirs);
    CHECK(theirs->site == 79);
    CHECK(theirs->position == 1);
    r.reset();
    note.release(*context);
    other.release(*context);
  }

  TEST_CASE("device recording: step copies move each step's rows, by 16, 4 and 1 bytes") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    const auto context = std::static_pointer_cast<DeviceContext>(emulated.context());
    // Three steps, two copies each: row t of a float32 [3, 8] (32 bytes) and row t of an
    // int8 [3, 3] (3 bytes), into fixed buffers; the advance moves the counter.
    const Array a = to_device(Array::arange(24, DType::Float32).reshape({3, 8}), gpu);
    const Array b = to_device(Array::arange(9, DType::Int8).reshape({3, 3}), gpu);
    auto counter_at = [&](std::int64_t t, std::int64_t end, std::int64_t stopped) {
      return to_device(Array::from_vector(std::vector<std::int64_t>{t, end, stopped}, {3}), gpu);
    };
    auto counter_is = [](const Array& counter, std::vector<std::int64_t> want) {
      return counter.to_host().to_vector<std::int64_t>() == want;
    };
    auto table_of = [&](const Array& fa, const Array& fb, int unit) {
      const bool bytes_only = unit == 1;
      std::vector<std::int64_t> entries;
      for (std::int64_t t = 0; t < 3; ++t) {
        entries.insert(entries.end(), {reinterpret_cast<std::int64_t>(fa.raw_data()),
                                       reinterpret_cast<std::int64_t>(a.index(0, t).raw_data()),
                                       32 / unit});
        // A 3-byte row only goes by bytes: the 16- and 4-byte tables copy the float rows.
        entries.insert(entries.end(), {reinterpret_cast<std::int64_t>(
                                           bytes_only ? fb.raw_data() : fa.raw_data()),
                                       reinterpret_cast<std::int64_t>(
                                           bytes_only ? b.index(0, t).raw_data()
                                                      : a.index(0, t).raw_data()),
                                       bytes_only ? 3 : 32 / unit});
      }
      return to_device(Array::from_vector(entries, {3, 2, 3}), gpu);
    };
    const Array fa = Array::empty({8}, DType::Float32, context);
    const Array fb = Array::empty({3}, DType::Int8, context);
    for (int unit : {16, 4, 1}) {
      INFO("unit " << unit);
      const Array table = table_of(fa, fb, unit);
      // Two steps of the table's three: the third call is past the end and copies nothing.
      const Array counter = counter_at(0, 2, 0);
      for (std::int64_t t = 0; t < 3; ++t) {
        context->step_copies(table, counter, unit, 32 / unit);
        context->step_advance(counter, nullptr);
        const std::int64_t row = std::min<std::int64_t>(t, 1);
        CHECK(array_equal(fa.to_host(), a.index(0, row).to_host()));
        if (unit == 1) CHECK(array_equal(fb.to_host(), b.index(0, row).to_host()));
        CHECK(counter_is(counter, {row + 1, 2, 0}));
      }
    }
    CHECK(g.step_table_bytes == 3 * 3 * (3 * 2 * 3) * sizeof(std::int64_t));  // per call

    // A while loop's condition: the step that sees it hold is the last; later ones copy
    // nothing and leave the counter as it is.
    const Array table = table_of(fa, fb, 4);
    const Array counter = counter_at(0, 3, 0);
    Array stop = to_device(Array::scalar(false), gpu);
    context->step_copies(table, counter, 4, 8);
    context->step_advance(counter, &stop);
    CHECK(counter_is(counter, {1, 3, 0}));
    stop.assign(Array::scalar(true));
    for (int t = 1; t < 3; ++t) {
      context->step_copies(table, counter, 4, 8);
      context->step_advance(counter, &stop);
      CHECK(array_equal(fa.to_host(), a.index(0, 1).to_host()));
      CHECK(counter_is(counter, {2, 2, 1}));
    }
    // A condition of any dtype holds as astype(Bool) says: nonzero, NaN included, -0 not.
    const double nan = std::nan("");
    for (DType dtype : all_dtypes) {
      for (double value : {0.0, -0.0, 1.0, 256.0, 0.5, nan}) {
        const Array x = Array::full({}, value, dtype);
        if (std::isnan(value) && !is_float(dtype)) continue;
        INFO(dtype_name(dtype) << " " << x.to_string());
        const Array c = counter_at(0, 3, 0);
        const Array condition = to_device(x, gpu);
        context->step_advance(c, &condition);
        const bool holds = x.astype(DType::Bool).item<bool>();
        CHECK(counter_is(c, holds ? std::vector<std::int64_t>{1, 1, 1}
                                  : std::vector<std::int64_t>{1, 3, 0}));
      }
    }
  }

  TEST_CASE("scan on a device: the steps after the first are one recording, replayed") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    const TrainingGraph lstm = lstm_training_graph(8);
    Function f = function(lstm.inputs, lstm.outputs, {.device = gpu});
    Function cpu = function(lstm.inputs, lstm.outputs);
    // Calls with other values each time: the same shapes reuse the recordings; more steps
    // than recorded for, or another batch, record again; fewer steps reuse them.
    struct Call {
      std::int64_t steps, batch;
      int recordings;
    };
    std::vector<Counts> done;
    std::vector<long long> allocations;
    std::uint64_t seed = 11;
    for (const Call& c : {Call{5, 3, 2}, Call{5, 3, 0}, Call{12, 3, 2}, Call{9, 3, 0},
                          Call{12, 3, 0}, Call{5, 2, 2}}) {
      INFO(c.steps << " steps, batch " << c.batch);
      const std::vector<Value> values = lstm_values(c.steps, c.batch, 4, 8, 0.5, seed += 10);
      const Counts before = Counts::of(g);
      {
        const Outputs got = f(values);
        const Outputs want = cpu(values);
        for (std::size_t i = 0; i < got.size(); ++i) {
          INFO("output " << i);
          CHECK(allclose(got[i].to_host(), want[i], 1e-4, 1e-5));
        }
      }
      done.push_back(Counts::of(g) - before);
      allocations.push_back(g.live_allocations);
      // The forward loop and BPTT's: replayed for every step but the first.
      CHECK(done.back().recordings == c.recordings);
      CHECK(done.back().replays == 2 * (c.steps - 1));
    }
    // A call that records launches the loops' kernels from the host for two steps (the
    // first, and the recorded one), one that replays for the first only: however many steps
    // the loops run.
    CHECK(done[0].launches == done[2].launches);
    CHECK(done[1].launches == done[3].launches);
    CHECK(done[1].launches == done[4].launches);
    CHECK(done[0].launches > done[1].launches);
    // Replaying allocates nothing that stays.
    CHECK(allocations[1] == allocations[0]);
    CHECK(allocations[4] == allocations[3]);
  }

  TEST_CASE("scan on a device: a step reading a shared variable that each call updates") {
    // The variable's value is a new array after each call: a replayed step must read the
    // value of its own call.
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    const Array w0 = Array::uniform(5, {4, 4}, -0.5, 0.5);
    const SharedVar w_dev = shared(w0, "w"), w_cpu = shared(w0, "w");
    Var xs = tensor3("xs"), h0 = matrix("h0");
    auto trainer = [&](const SharedVar& w, Device device) {
      Var hs = scan([&](const StepArgs& v) { return StepResult(tanh(v[0] + dot(v[1], w))); },
                    {.sequences = {xs}, .outputs_info = {h0}})[0];
      return function({xs, h0}, {hs}, {.updates = {{w, w * 0.9 + 0.01}}, .device = device});
    };
    Function dev = trainer(w_dev, gpu), cpu = trainer(w_cpu, Device::cpu());
    const Array xa = Array::uniform(6, {8, 2, 4}, -1, 1), ha = Array::uniform(7, {2, 4}, -1, 1);
    for (int call = 0; call < 3; ++call) {
      INFO("call " << call);
      const int recordings = g.recordings;
      CHECK(allclose(Array(dev(xa, ha)).to_host(), cpu(xa, ha), 1e-5, 1e-6));
      CHECK(g.recordings - recordings == (call == 0 ? 1 : 0));
    }
    CHECK(allclose(w_dev.get_value(), w_cpu.get_value(), 1e-6, 1e-7));
  }

  TEST_CASE("scan on a device: replays read taps, backward sequences, maps and last values") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    Var xs = matrix("xs"), s0 = matrix("s0"), w = matrix("w");
    Var k0 = vector("k0", int8), c0 = scalar("c0", int32), m0 = vector("m0");
    // A sequence read at three taps, backwards; a state with two taps (rows of 3 float32:
    // 12 bytes, copied by 4); an int8 state of 3 (by bytes); an int32 counter; a map output.
    std::vector<Var> outs = scan(
        [&](const StepArgs& v) {
          Var prev = v[0], now = v[1], next = v[2], s2 = v[3], s1 = v[4], k = v[5], c = v[6];
          Var s = tanh(dot(s1, w) * 0.5 + s2 * 0.25 + (prev - next) * now);
          return StepResult(std::vector<Var>{s, k + cast(s.sum() > 0, int8), c + 1,
                                             (s * now).sum()});
        },
        {.sequences = {Sequence(xs, {-1, 0, 1})},
         .outputs_info = {Recurrence(s0, {-2, -1}), k0, c0, Recurrence(Var())},
         .non_sequences = {w},
         .go_backwards = true});
    // A fold: only its last value is kept, in a ring of rows.
    Var folded = foldl([](const StepArgs& v) { return StepResult(v[1] * 0.5 + sqr(v[0])); },
                       {xs}, m0);
    const std::vector<Var> inputs{xs, s0, w, k0, c0, m0};
    std::vector<Var> outputs = outs;
    outputs.push_back(folded);
    Function f = function(inputs, outputs, {.device = gpu});
    Function cpu = function(inputs, outputs);
    // A second call, shorter and with other values, replays the first call's recordings.
    for (std::int64_t steps : {9, 7}) {
      INFO(steps << " elements");
      const std::vector<Value> values{Array::uniform(steps, {steps, 3}, -1, 1),
                                      Array::uniform(2, {2, 3}, -1, 1),
                                      Array::uniform(3 + steps, {3, 3}, -1, 1),
                                      Array::from_list<std::int8_t>({1, -2, 3}),
                                      Array::from_list<std::int32_t>({7}).reshape({}),
                                      Array::uniform(4, {3}, -1, 1)};
      const Counts before = Counts::of(g);
      const Outputs got = f(values);
      const Outputs want = cpu(values);
      const Counts done = Counts::of(g) - before;
      for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("output " << i);
        CHECK(allclose(got[i].to_host(), want[i], 1e-5, 1e-6));
      }
      CHECK(done.recordings == (steps == 9 ? 2 : 0));
      CHECK(done.replays == (steps - 2 - 1) + (steps - 1));
    }
  }

  TEST_CASE("scan on a device: an embedding looked up in the step, trained: both loops replay") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    // The lookup leaves the loop and its gradient is one scatter after BPTT (scan_loops), so
    // neither loop reads indices on the host per step: the forward loop and BPTT replay.
    Var ids = matrix("ids", int64), e = matrix("e"), w = matrix("w"), u = matrix("u");
    Var h0 = matrix("h0");
    Var hs = scan([&](const StepArgs& v) { return tanh(dot(take(e, v[0], 0), w) + dot(v[1], u)); },
                  {.sequences = {ids}, .outputs_info = {h0}})[0];
    std::vector<Var> outputs{hs.sum()};
    for (const Var& d : grad(outputs[0], std::vector<Var>{e, w, u})) outputs.push_back(d);
    std::vector<std::int64_t> id_values(9 * 3);
    for (std::size_t i = 0; i < id_values.size(); ++i) id_values[i] = static_cast<std::int64_t>(i * 7 % 11);
    const std::vector<Value> values{Array::from_vector(id_values, {9, 3}),
                                    Array::uniform(1, {11, 4}, -1, 1),
                                    Array::uniform(2, {4, 5}, -1, 1),
                                    Array::uniform(3, {5, 5}, -0.5, 0.5),
                                    Array::uniform(4, {3, 5}, -1, 1)};
    const Counts done = check_against_cpu(g, {ids, e, w, u, h0}, outputs, values);
    CHECK(done.recordings == 2);
    CHECK(done.replays == 2 * (9 - 1));
    // An id out of range that the hoisted lookup reads on the device: the error says where
    // among the ids, so which step (4) and which row (2).
    std::vector<std::int64_t> bad_ids = id_values;
    bad_ids[4 * 3 + 2] = 11;
    std::vector<Value> bad = values;
    bad[0] = to_device(Array::from_vector(bad_ids, {9, 3}), gpu);
    CHECK_THROWS_WITH_AS(function({ids, e, w, u, h0}, outputs, {.device = gpu})(bad),
                         doctest::Contains("take: index 11 is out of bounds for axis 0 with size "
                                           "11, at [4, 2] of the indices (read on cuda:0"),
                         Error);

    // Over the first n steps only, the lookup stays in the forward step (reading its ids on
    // the device) and the gradient's scatter leaves BPTT as one scatter of the device's
    // ids after it: both loops replay, and the gradients are the CPU's.
    Var n = scalar("n", int64);
    Var hs_n = scan([&](const StepArgs& v) { return tanh(dot(take(e, v[0], 0), w) + dot(v[1], u)); },
                    {.sequences = {ids}, .outputs_info = {h0}, .n_steps = n})[0];
    std::vector<Var> bounded{hs_n.sum()};
    for (const Var& d : grad(bounded[0], std::vector<Var>{e, w, u})) bounded.push_back(d);
    std::vector<Value> with_n = values;
    with_n.push_back(Array::scalar<std::int64_t>(7));
    const int device_scatters = g.device_scatters;
    const Counts done_n = check_against_cpu(g, {ids, e, w, u, h0, n}, bounded, with_n);
    CHECK(done_n.recordings == 2);
    CHECK(done_n.replays == 2 * (7 - 1));
    CHECK(g.device_scatters - device_scatters == 1);
  }

  TEST_CASE("scan on a device: lookups of indices the device holds or computes replay") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    Var ids = matrix("ids", int64), e = matrix("e"), w = matrix("w"), h0 = matrix("h0");
    Var n = scalar("n", int64);
    const Array ia = Array::from_vector(
        std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 3, 3, 2, 2, 1, 1, -1, -10}, {9, 2});
    const Array ea = Array::uniform(2, {10, 4}, -1, 1), wa = Array::uniform(3, {4, 4}, -1, 1),
                ha = Array::uniform(1, {2, 4}, -1, 1), na = Array::scalar<std::int64_t>(7);

    // A lookup left in the step (a loop of at most n steps need not read every id, so it is
    // not hoisted): the ids go over once, the step's take reads its row on the device, and
    // the loop replays. A later call reads back only the device's note of index faults.
    auto embed_step = [&](const StepArgs& v) {
      return StepResult(tanh(take(e, v[0], 0) + dot(v[1], w)));
    };
    const int take_line = __LINE__ - 2;
    Var bounded = scan(embed_step, {.sequences = {ids}, .outputs_info = {h0}, .n_steps = n})[0];
    const Counts done =
        check_against_cpu(g, {ids, e, h0, w, n}, {bounded}, {ia, ea, ha, wa, na});
    CHECK(done.recordings == 1);
    CHECK(done.replays == 6);
    Function embed = function({ids, e, h0, w, n}, {bounded}, {.device = gpu});
    CHECK(embed.compile_report().loops_step_by_step.empty());
    embed(ia, ea, ha, wa, na);
    const std::size_t back = g.bytes_to_host;
    const int gathers = g.device_gathers, host_gathers = g.gathers, reads = g.fault_reads;
    embed(ia, ea, ha, wa, na);
    CHECK(g.bytes_to_host - back == DeviceFaultNote::kWords * sizeof(std::int64_t));
    CHECK(g.fault_reads - reads == 1);
    CHECK(g.device_gathers - gathers == 1);  // the first step's; the others are replayed
    CHECK(g.gathers == host_gathers);

    // An id out of range at step 5 (of 7): the call raises the host's error at the take's
    // line once it is done, and returns nothing; the next call is unaffected.
    Array bad = ia.copy();
    bad.set<std::int64_t>({5, 1}, 10);
    try {
      embed(bad, ea, ha, wa, na);
      FAIL("an id out of range was looked up");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "take"));
      // The step's row of ids: the second.
      CHECK(contains(e.what(), "index 10 is out of bounds for axis 0 with size 10, at [1] of "
                               "the indices"));
      CHECK(contains(e.what(), "read on cuda:0 from indices it holds"));
      CHECK(contains(e.what(), fmt::format("{}:{}", this_file(), take_line)));
    }
    CHECK(allclose(Array(embed(ia, ea, ha, wa, na)).to_host(),
                   function({ids, e, h0, w, n}, {bounded})(ia, ea, ha, wa, na), 1e-5, 1e-6));

    // Greedy decoding: each step's token is the argmax of the last state's scores, looked
    // up at once; the indices never leave the device.
    Var v_out = matrix("v_out"), tok0 = vector("tok0", int64);
    std::vector<Var> decoded = scan(
        [&](const StepArgs& v) {
          Var h = tanh(take(e, v[1], 0) + dot(v[0], w));
          return StepResult(std::vector<Var>{h, argmax(dot(h, v_out), {1})});
        },
        {.outputs_info = {h0, tok0}, .n_steps = 12});
    const Array va = Array::uniform(4, {4, 10}, -1, 1);
    const Array toka = Array::from_list<std::int64_t>({3, 8});
    CHECK(check_against_cpu(g, {e, h0, w, v_out, tok0}, decoded, {ea, ha, wa, va, toka})
              .recordings == 1);
    Function decode = function({e, h0, w, v_out, tok0}, decoded, {.device = gpu});
    CHECK(decode.compile_report().loops_step_by_step.empty());

    // Counts of the ids seen so far, by a scatter at each step: repeated ids in a step add
    // up in order; a bounded loop keeps it in the step.
    Var c0 = vector("c0");
    Var counts = scan(
        [&](const StepArgs& v) {
          return StepResult(inc_subtensor(v[1][v[0]], constant(1.0, float32)) * 0.5f);
        },
        {.sequences = {ids}, .outputs_info = {c0}, .n_steps = n})[0];
    const Array ca = Array::uniform(5, {10}, 0, 1);
    const int scatters = g.device_scatters;
    CHECK(check_against_cpu(g, {ids, c0, n}, {counts}, {ia, ca, na}).recordings == 1);
    CHECK(g.device_scatters - scatters == 2);  // the first step's and the recorded step's

    // More ids a step than scatter_compare_rows: sorted on the device, the sort's scratch
    // kept with the recording; the step still records and replays.
    const std::int64_t wide = scatter_compare_rows + 100, slots = 700;
    std::vector<std::int64_t> many(static_cast<std::size_t>(6 * wide));
    for (std::size_t k = 0; k < many.size(); ++k)
      many[k] = static_cast<std::int64_t>(k * 7919) % (2 * slots) - slots;
    const long long allocations = g.live_allocations;
    const Counts wide_counts = check_against_cpu(
        g, {ids, c0, n}, {counts},
        {Array::from_vector(many, {6, wide}), Array::uniform(6, {slots}, 0, 1),
         Array::scalar<std::int64_t>(6)});
    CHECK(g.refusals == 0);
    CHECK(wide_counts.recordings == 1);
    CHECK(wide_counts.replays == 5);
    CHECK(g.live_allocations == allocations);  // the recording and its scratch are gone
  }

  TEST_CASE("scan on a device: draws in a step advance their generator state on the device "
            "and replay") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    Var h0 = matrix("h0"), w = matrix("w"), xs = tensor3("xs");
    const Array ha = Array::uniform(1, {2, 4}, -1, 1), wa = Array::uniform(3, {4, 4}, -1, 1),
                xa = Array::uniform(4, {8, 2, 4}, -1, 1);
    // A dropout-like mask, noise and integer shifts at each step: the generator states are carried
    // from step to step on the device, where each draw reads its state and writes the
    // advanced one; the numbers are the host's (uniform: its bits; normal: up to the
    // device's log, sin and cos). Both machines start from the same states, and each call
    // goes on where the last one left them.
    auto model = [&](RandomStreams& rng) {
      return scan(
          [&](const StepArgs& v) {
            Var keep = rng.uniform({2, 4}) < 0.8;
            Var shift = cast(rng.integers({2, 4}, -1, 2), float32) * 0.01;
            return StepResult(tanh(v[0] + dot(v[1], w)) * cast(keep, float32) +
                              rng.normal({2, 4}, 0, 0.01) + shift);
          },
          {.sequences = {xs}, .outputs_info = {h0}})[0];
    };
    RandomStreams rng(7), cpu_rng(7);
    Function noisy = function({xs, h0, w}, {model(rng)}, {.device = gpu});
    Function noisy_cpu = function({xs, h0, w}, {model(cpu_rng)});
    CHECK(noisy.compile_report().loops_step_by_step.empty());
    CHECK(noisy.compile_report().host_steps.empty());
    for (int call = 0; call < 3; ++call) {
      INFO("call " << call);
      const std::size_t back = g.bytes_to_host;
      const Counts before = Counts::of(g);
      const int draws = g.device_state_draws;
      const Array got = Array(noisy(xa, ha, wa)).to_host();
      const Counts done = Counts::of(g) - before;
      CHECK(done.recordings == (call == 0 ? 1 : 0));
      CHECK(done.replays == 7);
      // The first step's three draws, and the recorded step's on the first call.
      CHECK(g.device_state_draws - draws == (call == 0 ? 6 : 3));
      CHECK(g.bytes_to_host - back == got.nbytes());  // only the result
      CHECK(allclose(got, noisy_cpu(xa, ha, wa), 1e-5, 1e-6));
      for (std::size_t k = 0; k < 3; ++k) {
        INFO("state " << k);
        CHECK(rng.states()[k].device() == gpu);
        CHECK(array_equal(rng.states()[k].get_value(), cpu_rng.states()[k].get_value()));
      }
    }

    // A random walk until it leaves [-1, 1] (a while loop, replayed in chunks): the state
    // comes out as it was at the stop, although the chunk's last steps ran past it.
    Var x0 = vector("x0");
    auto walk = [&](RandomStreams& r) {
      return scan(
          [&](const StepArgs& v) {
            Var next = v[0] + r.uniform({3}, -0.2, 0.2);
            return StepResult(std::vector<Var>{next}, abs(next).max() > 1);
          },
          {.outputs_info = {x0}, .n_steps = 500})[0];
    };
    RandomStreams walk_rng(11), walk_cpu_rng(11);
    Function walker = function({x0}, {walk(walk_rng)}, {.device = gpu});
    Function walker_cpu = function({x0}, {walk(walk_cpu_rng)});
    const Array x0a = Array::zeros({3});
    for (int call = 0; call < 2; ++call) {
      INFO("call " << call);
      const Array want = walker_cpu(x0a);
      const Counts before = Counts::of(g);
      const Array got = Array(walker(x0a)).to_host();
      CHECK((Counts::of(g) - before).replays >= want.shape()[0] - 1);
      REQUIRE(got.shape() == want.shape());
      CHECK(want.shape()[0] > 10);
      CHECK(allclose(got, want, 1e-5, 1e-6));
      CHECK(array_equal(walk_rng.states()[0].get_value(), walk_cpu_rng.states()[0].get_value()));
    }
  }

  TEST_CASE("scan on a device: a while loop replays chunks of steps, its condition read once per chunk") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    // x changes until the step counter reaches `limit` (a float, on the device), at most n
    // steps; the loop stacks x, the counter (int32) and a map output, and keeps the last
    // value only of a running sum (a ring of rows). The condition is a bool, or a float
    // that is 0 until the limit (read on the device as astype(Bool) reads it).
    Var x0 = vector("x0"), w = matrix("w"), limit = scalar("limit"), n = scalar("n", int64);
    Var k0 = scalar("k0", int32), a0 = scalar("a0");
    const Array xa = Array::uniform(1, {4}, -1, 1), wa = Array::uniform(2, {4, 4}, -1, 1);
    // Steps 1.. run in chunks [1, 5), [5, 10), [10, 20), [20, 40), [40, 80), [80, 144), ...:
    // each replayed whole (the steps after the stop copy nothing), then its counter read.
    // After a call that ran k steps, the next call's first chunk is [1, k).
    struct Call {
      double stop_after;  // steps the condition lets run
      std::int64_t bound, steps, replays, reads, recordings;
    };
    const Call calls[] = {
        {30, 200, 30, 39, 4, 1},     // stops inside a chunk: 9 steps replayed past it
        {30, 200, 30, 29, 1, 0},     // as long as last time: one chunk, read once
        {20, 200, 20, 29, 1, 0},     // shorter: 9 steps replayed past the stop
        {1, 200, 1, 0, 0, 0},        // the first step stops it: nothing replayed
        {5, 200, 5, 4, 1, 0},        // stops at a chunk's last step
        {150, 200, 150, 199, 7, 0},  // more steps than a chunk: the stacks grow; [144, 200)
        // Never stops: runs to the bound in one chunk (150 steps expected), longer than the
        // recording's tables (64 steps): recorded again.
        {300, 100, 100, 99, 1, 1},
        {3, 4, 3, 3, 1, 0},  // a 3-step chunk replays the kept recording
    };
    for (bool float_condition : {false, true}) {
      INFO(std::string(float_condition ? "a float condition" : "a bool condition"));
      std::vector<Var> outs = scan(
          [&](const StepArgs& v) {
            Var x = tanh(dot(v[0], w)) + v[0] * 0.5;
            Var k = v[1] + 1;
            Var reached = float_condition ? relu(cast(k, float32) - limit + 1)
                                          : cast(k, float32) >= limit;
            return StepResult({x, k, v[2] + x.sum(), x.max()}, reached);
          },
          {.outputs_info = {x0, k0, a0, Recurrence(Var())}, .n_steps = n});
      outs[2] = outs[2][-1];
      const std::vector<Var> inputs{x0, w, k0, a0, limit, n};
      Function f = function(inputs, outs, {.device = gpu});
      Function cpu = function(inputs, outs);
      for (const Call& c : calls) {
        INFO("stop after " << c.stop_after << ", at most " << c.bound << " steps");
        const std::vector<Value> values{xa,
                                        wa,
                                        Array::scalar<std::int32_t>(0),
                                        Array::scalar(0.5f),
                                        Array::scalar<float>(static_cast<float>(c.stop_after)),
                                        Array::scalar<std::int64_t>(c.bound)};
        const Counts before = Counts::of(g);
        const std::size_t back = g.bytes_to_host;
        const Outputs got = f(values);
        const Counts done = Counts::of(g) - before;
        const std::size_t read_back = g.bytes_to_host - back;
        const Outputs want = cpu(values);
        for (std::size_t i = 0; i < got.size(); ++i) {
          INFO("output " << i);
          if (i != 2) CHECK(got[i].shape()[0] == c.steps);
          CHECK(allclose(got[i].to_host(), want[i], 1e-5, 1e-6));
        }
        // The first chunk records; later chunks and calls replay that recording.
        CHECK(done.recordings == c.recordings);
        CHECK(done.replays == c.replays);
        // Read back: the first step's condition (as a bool), then each chunk's counter.
        CHECK(read_back == 1 + c.reads * 3 * sizeof(std::int64_t));
      }
    }

    // Iterating to a fixed point (cuda_bench's while loop, smaller): the condition is a
    // reduction over the step's result.
    Var x = matrix("x"), h0 = matrix("h0");
    Var hs = scan(
        [&](const StepArgs& v) {
          Var h = tanh(dot(v[0], w) + x);
          return StepResult({h}, abs(h - v[0]).max() < 1e-4);
        },
        {.outputs_info = {h0}, .n_steps = 1000})[0];
    const Array fixed_w = Array::uniform(5, {8, 8}, -0.4, 0.4);
    const Counts done =
        check_against_cpu(g, {x, h0, w}, {hs},
                          {Array::normal(6, {3, 8}), Array::zeros({3, 8}), fixed_w});
    CHECK(done.recordings == 1);
    // It ran on, and stopped (where the CPU did: the same rows) well before the bound.
    CHECK(done.replays >= 8);
    CHECK(done.replays < 100);

    // A condition worked out on the host (from sizes): the device cannot read it, so the
    // recording is refused once and the loop runs step by step, reading it there.
    Var sized = scan(
        [&](const StepArgs& v) {
          Var h = tanh(dot(v[0], w) + x);
          return StepResult({h}, h.shape(0) > 100);
        },
        {.outputs_info = {h0}, .n_steps = 12})[0];
    const int refusals = g.refusals;
    CHECK(check_against_cpu(g, {x, h0, w}, {sized},
                            {Array::normal(6, {3, 8}), Array::zeros({3, 8}), fixed_w})
              .recordings == 0);
    CHECK(g.refusals - refusals == 1);
  }

  TEST_CASE("scan on a device: what a recording cannot hold runs step by step, as before") {
    ScopedEmulatedGpu emulated;
    EmulatedGpu& g = emulated.gpu();
    Var h0 = matrix("h0"), e = matrix("e"), w = matrix("w"), xs = tensor3("xs");
    Var ids = matrix("ids", int64);
    const Array ha = Array::uniform(1, {2, 4}, -1, 1), ea = Array::uniform(2, {10, 4}, -1, 1),
                wa = Array::uniform(3, {4, 4}, -1, 1), xa = Array::uniform(4, {8, 2, 4}, -1, 1);
    const Array ia = Array::from_vector(std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 0,
                                                                  3, 3, 2, 2, 1, 1},
                                        {8, 2});
    auto rnn = [&](const StepArgs& v) { return StepResult(tanh(v[0] + dot(v[1], w))); };

    // An embedding looked up inside the step: the lookup leaves the loop (scan_loops), one
    // gather before it, and the step replays.
    auto embed_step = [&](const StepArgs& v) {
      return StepResult(tanh(take(e, v[0], 0) + dot(v[1], w)));
    };
    Var embedded = scan(embed_step, {.sequences = {ids}, .outputs_info = {h0}})[0];
    CHECK(check_against_cpu(g, {ids, e, h0, w}, {embedded}, {ia, ea, ha, wa}).recordings == 1);
    // The compile report says which loops run step by step, and why (a replayed one is not
    // listed).
    CHECK(function({ids, e, h0, w}, {embedded}, {.device = gpu})
              .compile_report()
              .loops_step_by_step.empty());

    // An op with no device form in the step: its operands go to the host at each step.
    // "scan at <file>:<line> (host_only_dot at <file>:<line> has no device form)": the
    // user's lines.
    Var hosted = scan([&](const StepArgs& v) { return StepResult(tanh(v[0] + host_only_dot(v[1], w))); },
                      {.sequences = {xs}, .outputs_info = {h0}})[0];
    Function on_host = function({xs, h0, w}, {hosted}, {.device = gpu});
    const std::vector<std::string> listed = on_host.compile_report().loops_step_by_step;
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].starts_with("scan at "));
    CHECK(contains(listed[0], this_file() + ":"));
    CHECK(contains(listed[0], "(host_only_dot at "));
    CHECK(contains(listed[0], "has no device form"));
    CHECK(contains(on_host.compile_report().to_string(), "loops run step by step: " + listed[0]));
    CHECK(check_against_cpu(g, {xs, h0, w}, {hosted}, {xa, ha, wa}).recordings == 0);

    // Too few steps to be worth a recording; but a recording made for more steps is
    // replayed for them.
    Var plain = scan(rnn, {.sequences = {xs}, .outputs_info = {h0}})[0];
    CHECK(check_against_cpu(g, {xs, h0, w}, {plain}, {xa.slice(0, 0, 4), ha, wa}).recordings ==
          0);
    CHECK(check_against_cpu(g, {xs, h0, w}, {plain}, {xa, ha, wa}).recordings == 1);
    Function short_loops = function({xs, h0, w}, {plain}, {.device = gpu});
    Function short_cpu = function({xs, h0, w}, {plain});
    for (std::int64_t steps : {8, 3}) {
      INFO(steps << " steps");
      const Counts before = Counts::of(g);
      const Array x = xa.slice(0, 0, steps);
      CHECK(allclose(Array(short_loops(x, ha, wa)).to_host(), short_cpu(x, ha, wa), 1e-5, 1e-6));
      const Counts done = Counts::of(g) - before;
      CHECK(done.recordings == (steps == 8 ? 1 : 0));
      CHECK(done.replays == steps - 1);
    }

    // A step that turns out to need a copy from the host at each step (an integer on the
    // host times a state on the device, in one kernel) is refused, tried once more on the
    // next call (what refused may pass: a copy kernel loaded since), then not tried.
    Var k = scalar("k", int64), n0 = scalar("n0", int64);
    std::vector<Var> counted = scan(
        [&](const StepArgs& v) {
          return StepResult(std::vector<Var>{
              tanh(v[0] + dot(v[1], w)) * cast(v[2] * k, float32) * 0.1, v[2] + 1});
        },
        {.sequences = {xs}, .outputs_info = {h0, n0}});
    Function scaled = function({xs, h0, n0, k, w}, {counted[0]}, {.device = gpu});
    const Array want_scaled = function({xs, h0, n0, k, w}, {counted[0]})(xa, ha, 1, 3, wa);
    for (int call = 0; call < 3; ++call) {
      INFO("call " << call);
      const int refusals = g.refusals, recordings = g.recordings;
      CHECK(allclose(Array(scaled(xa, ha, 1, 3, wa)).to_host(), want_scaled, 1e-5, 1e-6));
      CHECK(g.refusals - refusals == (call < 2 ? 1 : 0));
      CHECK(g.recordings == recordings);
    }

    // A loop inside a loop's step, and one inside an ifelse branch: the outer step holds a
    // loop (step by step), the inner loops replay on their own.
    Var inner_scan = scan(
        [&](const StepArgs& v) {
          Var inner = scan(rnn, {.sequences = {xs}, .outputs_info = {v[1]}})[0];
          return StepResult(inner[-1] * 0.5 + v[0]);
        },
        {.sequences = {xs}, .outputs_info = {h0}})[0];
    Var branched = ifelse(w.sum() > 0, scan(rnn, {.sequences = {xs}, .outputs_info = {h0}})[0],
                          scan(rnn, {.sequences = {xs}, .outputs_info = {h0 * 2}})[0]);
    CHECK(check_against_cpu(g, {xs, h0, w}, {inner_scan, branched}, {xa, ha, wa}).recordings >
          0);
    const std::vector<std::string> nested =
        function({xs, h0, w}, {inner_scan, branched}, {.device = gpu})
            .compile_report()
            .loops_step_by_step;
    REQUIRE(nested.size() == 1);  // the outer loop; the inner ones and those in branches replay
    CHECK(contains(nested[0], "its step holds a scan at "));

    // The debug mode compares each step's kernels with the interpreter on the host.
    Function debug = function({xs, h0, w}, {plain}, {.mode = Mode::Debug, .device = gpu});
    const int recordings = g.recordings;
    CHECK(allclose(Array(debug(xa, ha, wa)).to_host(),
                   function({xs, h0, w}, {plain})(xa, ha, wa), 1e-5, 1e-6));
    CHECK(g.recordings == recordings);
  }

  TEST_CASE("scan on a GPU: the LSTM's loops replay a CUDA graph and follow the CPU") {
    CGVM_REQUIRE_GPU_OR_SKIP();
    std::vector<std::string> warnings;
    const WarningHandler saved =
        set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
    const TrainingGraph lstm = lstm_training_graph(32);
    const std::vector<Value> values = lstm_values(20, 16, 24, 32, 0.3);
    const Outputs want = function(lstm.inputs, lstm.outputs)(values);
    Function f = function(lstm.inputs, lstm.outputs, {.device = gpu});
    for (int call = 0; call < 2; ++call) {
      INFO("call " << call);
      const Outputs got = f(values);
      for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("output " << i);
        CHECK(allclose(got[i].to_host(), want[i], 1e-3, 1e-4));
      }
    }
    set_warning_handler(saved);
    // The driver recorded and replayed (a refusal is a warning, and loops step by step).
    for (const std::string& w : warnings) CHECK_MESSAGE(!contains(w, "recording a graph"), w);
  }
}

}  // namespace
}  // namespace cgvm::test
