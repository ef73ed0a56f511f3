"""What one call of the shipped network costs, and what session options or batching devices save.

    python benchmarks/bench_network_calls.py

At the sound card's 0.1 s blocks the neural detector calls onnxruntime ten times a second
with five hops each, so the fixed cost of a call matters more than its arithmetic. This
script times one call of ``motion.fp32.onnx`` (CPU time of this process, one thread, best
of five rounds) with:

- the detector's session (one intra- and one inter-op thread, default graph optimisation),
  and the same with the other graph optimisation levels, with IOBinding, and with
  ``run_with_ort_values``;
- the graph edited in memory so that each state slice starts at a constant (−k) instead of
  a Shape → Gather → Sub → Unsqueeze chain (28 of the optimised graph's 63 nodes);
- N devices' hops in one call: the batch axis (1 in the shipped graph) made symbolic in
  memory, the CPU time per device against N single calls.

Every edited graph's outputs are checked against the shipped one's (bit for bit).
"""

from __future__ import annotations

import os

# One core: set before NumPy (and its BLAS) and onnxruntime are first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from uspd.detect.neural import default_model_path  # noqa: E402

HOPS_PER_CALL = 5  # 0.1 s blocks, 20 ms hops
CALLS, ROUNDS = 300, 5
DEVICE_COUNTS = (1, 4, 16, 64)


def session(model: onnx.ModelProto, level: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            ) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.graph_optimization_level = level
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def cpu_us_per_call(call) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(CALLS):
            call()
        best = min(best, time.process_time() - start)
    return best / CALLS * 1e6


def constant_state_slices(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose state slices ``joined[..., len − k:]`` start at the constant −k."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    constants = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    for node in graph.node:
        unsqueeze = producer.get(node.input[1]) if node.op_type == "Slice" else None
        if unsqueeze is None or unsqueeze.op_type != "Unsqueeze":
            continue
        k = int(constants[producer[unsqueeze.input[0]].input[1]])  # Sub(length, k)
        graph.initializer.append(numpy_helper.from_array(np.array([-k], np.int64), f"{node.name}_start"))
        node.input[1] = f"{node.name}_start"
    while True:  # drop what no longer feeds an output
        used = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
        dead = [node for node in graph.node if not any(out in used for out in node.output)]
        if not dead:
            return model
        for node in dead:
            graph.node.remove(node)


def symbolic_batch(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose inputs and outputs take any number of devices on axis 0."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "devices"
    return model


def main() -> None:
    shipped = onnx.load(str(default_model_path()))
    base = session(shipped)
    rng = np.random.default_rng(0)
    state_inputs = [i for i in base.get_inputs() if i.name != "features"]

    def feeds(n_devices: int) -> dict[str, np.ndarray]:
        return {"features": rng.standard_normal((n_devices, 64, HOPS_PER_CALL)).astype(np.float32),
                **{i.name: rng.standard_normal((n_devices, *i.shape[1:])).astype(np.float32) for i in state_inputs}}

    one = feeds(1)
    reference = base.run(None, one)
    rows = [("detector's session (graph optimisation: all)", cpu_us_per_call(lambda: base.run(None, one)))]
    for name, level in (("basic", ort.GraphOptimizationLevel.ORT_ENABLE_BASIC),
                        ("extended", ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)):
        other = session(shipped, level)
        rows.append((f"graph optimisation: {name}", cpu_us_per_call(lambda: other.run(None, one))))
    binding = base.io_binding()
    outputs = [o.name for o in base.get_outputs()]

    def bound() -> list[np.ndarray]:
        for name, value in one.items():
            binding.bind_cpu_input(name, value)
        for name in outputs:
            binding.bind_output(name)
        base.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()

    rows.append(("IOBinding", cpu_us_per_call(bound)))
    ort_values = {name: ort.OrtValue.ortvalue_from_numpy(value) for name, value in one.items()}
    rows.append(("run_with_ort_values", cpu_us_per_call(lambda: base.run_with_ort_values(outputs, ort_values))))
    simplified = session(constant_state_slices(shipped))
    assert all(np.array_equal(a, b) for a, b in zip(simplified.run(None, one), reference))
    rows.append(("state slices from constant starts (graph edited in memory)",
                 cpu_us_per_call(lambda: simplified.run(None, one))))

    batched = session(symbolic_batch(shipped))
    print(f"One call of {default_model_path().name}, {HOPS_PER_CALL} hops, one thread, "
          f"CPU µs per call (best of {ROUNDS} × {CALLS} calls):\n")
    print("| session | µs per call | vs the detector's |\n|---|---:|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.0f} | {us / rows[0][1]:.2f} |")
    print("\nN devices' hops in one call (batch axis made symbolic in memory) against N single calls:\n")
    print("| devices per call | µs per device, one call | µs per device, N calls | ratio |\n|---:|---:|---:|---:|")
    for n in DEVICE_COUNTS:
        many = feeds(n)
        together = batched.run(None, many)
        singles = [{name: value[d : d + 1] for name, value in many.items()} for d in range(n)]
        alone = [base.run(None, feed) for feed in singles]
        assert all(np.array_equal(together[k][d], alone[d][k][0]) for d in range(n) for k in range(len(alone[d])))
        per_device = cpu_us_per_call(lambda: batched.run(None, many)) / n
        per_single = cpu_us_per_call(lambda: [base.run(None, feed) for feed in singles]) / n
        print(f"| {n} | {per_device:.0f} | {per_single:.0f} | {per_single / per_device:.2f} |")


if __name__ == "__main__":
    main()
