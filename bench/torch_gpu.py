"""PyTorch on the GPU: the peer of cuda_bench's device functions (same models, same sizes).

  mlp step    784-512-512-10, ReLU, softmax cross-entropy averaged over the batch, plain SGD
              (lr 0.01) of every weight, the batch already on the GPU
  lstm train  torch.nn.LSTM (input 128, hidden 256, cuDNN) over 50 steps from zero states,
              loss = sum of all hidden states, its gradients w.r.t. the layer's weights
  while loop  h <- tanh(h W + x), hidden 256, until no element moves by 1e-4 or more (at
              most 1000 steps), the iterates stacked: a Python loop that reads the
              condition each step, as one writes it in PyTorch

  greedy decode  50 steps of h <- tanh(E[token] + h W), token <- argmax(h P) (vocabulary
              10,000, hidden 256), the tokens stacked: a Python loop whose tokens stay on
              the GPU (no read back per step), under torch.no_grad()

Each step is followed by torch.cuda.synchronize(), as cuda_bench synchronises after each
call. The figure is the median over --reps repetitions of the milliseconds per step, each
repetition looping steps for at least 20 ms (bench/harness.hpp's measure()).

  python3 bench/torch_gpu.py [--reps 11]
"""
import argparse
import statistics
import time

import torch


def ms_per_step(step, reps):
    step()  # warm-up: allocation, cuDNN plans, kernel loading
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    step()
    torch.cuda.synchronize()
    one = max(time.perf_counter() - t0, 1e-9)
    inner = max(1, int(0.02 / one + 0.999))
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) / inner * 1e3)
    return statistics.median(samples)


def mlp_step(batch, reps):
    torch.manual_seed(42)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10)).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, 784, device="cuda")
    labels = torch.randint(0, 10, (batch,), device="cuda")

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()

    ms = ms_per_step(step, reps)
    print(f"{'mlp step':<12} batch {batch:4d} {ms:10.3f} ms per step")


def lstm_train(batch, reps):
    torch.manual_seed(7)
    lstm = torch.nn.LSTM(128, 256).cuda()
    xs = torch.randn(50, batch, 128, device="cuda")
    weights = list(lstm.parameters())

    def step():
        hs, _ = lstm(xs)
        torch.autograd.grad(hs.sum(), weights)

    ms = ms_per_step(step, reps)
    print(f"{'lstm train':<12} batch {batch:4d} {ms:10.3f} ms per step")


def while_loop(batch, reps):
    torch.manual_seed(3)
    hidden = 256
    bound = 1.2 * (3.0 / hidden) ** 0.5
    x = torch.randn(batch, hidden, device="cuda")
    w = (torch.rand(hidden, hidden, device="cuda") * 2 - 1) * bound
    steps = [0]

    def step():
        h = torch.zeros(batch, hidden, device="cuda")
        hs = []
        for _ in range(1000):
            new = torch.tanh(h @ w + x)
            hs.append(new)
            moved = (new - h).abs().max()
            h = new
            if moved.item() < 1e-4:
                break
        steps[0] = len(torch.stack(hs))

    ms = ms_per_step(step, reps)
    print(f"{'while loop':<12} batch {batch:4d} {ms:10.3f} ms per call  ({steps[0]} steps)")


def greedy_decode(batch, reps):
    torch.manual_seed(5)
    vocab, hidden, steps = 10000, 256, 50
    bound = (3.0 / hidden) ** 0.5
    e = torch.randn(vocab, hidden, device="cuda") * 0.1
    w = (torch.rand(hidden, hidden, device="cuda") * 2 - 1) * bound
    p = torch.randn(hidden, vocab, device="cuda") / hidden ** 0.5

    @torch.no_grad()
    def step():
        h = torch.zeros(batch, hidden, device="cuda")
        token = torch.zeros(batch, dtype=torch.long, device="cuda")
        tokens = []
        for _ in range(steps):
            h = torch.tanh(e[token] + h @ w)
            token = (h @ p).argmax(1)
            tokens.append(token)
        return torch.stack(tokens)

    ms = ms_per_step(step, reps)
    print(f"{'greedy decode':<12} batch {batch:4d} {ms:10.3f} ms per call  ({steps} steps)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=11)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("torch_gpu: no usable GPU")
        return
    print(f"torch_gpu: torch {torch.__version__} on {torch.cuda.get_device_name(0)}, "
          f"cuDNN {torch.backends.cudnn.version()}")
    for batch in (128, 512):
        mlp_step(batch, args.reps)
    for batch in (128, 512):
        lstm_train(batch, args.reps)
    for batch in (128, 512):
        while_loop(batch, args.reps)
    for batch in (128, 512):
        greedy_decode(batch, args.reps)


if __name__ == "__main__":
    main()
