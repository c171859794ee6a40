"""The single-core float32 FMA peak, measured: a microkernel written in LLVM IR (via llvmlite,
which Numba already ships) and compiled for the measured build's CPU.

Why IR and not a Numba loop: Numba keeps array accumulators in memory, so a loop of multiply-adds
measures loads and stores, not the FMA units. The IR keeps ``ACCUMULATORS`` independent vector
accumulators in registers (enough to cover FMA latency x FMA ports) and runs ``acc = acc * m + c``
on each, for 8-lane (AVX2) and, where the target has AVX-512, 16-lane vectors; the peak is the
faster. The target is the build's (``target_cpu``): the Lambda build's x86-64-v3 has no AVX-512
even on a host that has it.
Flops counted: 2 per lane per FMA. This is what an sgemm microkernel can at best reach.
"""

from __future__ import annotations

import ctypes
import os
import time

ACCUMULATORS = 12
# Named CPU targets with AVX-512 (a named target's 16-lane vectors are split into two 8-lane
# halves when it has none, which measures the 8-lane peak again: harmless, but skipped)
AVX512_CPUS = ("x86-64-v4", "skylake-avx512", "cascadelake", "cooperlake", "icelake-server",
               "sapphirerapids", "znver4")


def _ir(lanes: int) -> str:
    vec = f"<{lanes} x float>"
    lines = [f"declare {vec} @llvm.fma.v{lanes}f32({vec}, {vec}, {vec})",
             "define float @fma_peak(i64 %n, float %m, float %c) {",
             "entry:",
             f"  %m0 = insertelement {vec} undef, float %m, i32 0",
             f"  %mv = shufflevector {vec} %m0, {vec} undef, <{lanes} x i32> zeroinitializer",
             f"  %c0 = insertelement {vec} undef, float %c, i32 0",
             f"  %cv = shufflevector {vec} %c0, {vec} undef, <{lanes} x i32> zeroinitializer",
             "  br label %loop", "loop:",
             "  %i = phi i64 [0, %entry], [%next, %loop]"]
    for a in range(ACCUMULATORS):
        lines.append(f"  %a{a} = phi {vec} [%cv, %entry], [%b{a}, %loop]")
    for a in range(ACCUMULATORS):
        lines.append(f"  %b{a} = call {vec} @llvm.fma.v{lanes}f32({vec} %a{a}, {vec} %mv, "
                     f"{vec} %cv)")
    lines += ["  %next = add i64 %i, 1", "  %done = icmp eq i64 %next, %n",
              "  br i1 %done, label %exit, label %loop", "exit:"]
    previous = "%b0"
    for a in range(1, ACCUMULATORS):
        lines.append(f"  %s{a} = fadd {vec} {previous}, %b{a}")
        previous = f"%s{a}"
    lines += [f"  %r = extractelement {vec} {previous}, i32 0", "  ret float %r", "}"]
    return "\n".join(lines)


def _compile(lanes: int):
    import llvmlite.binding as llvm

    try:  # older llvmlite needs explicit initialization; newer ones do it themselves
        llvm.initialize()
    except RuntimeError:
        pass
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    cpu, features = target_cpu()
    machine = target.create_target_machine(cpu=cpu, features=features, opt=3)
    module = llvm.parse_assembly(_ir(lanes))
    module.verify()
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    address = engine.get_function_address("fma_peak")
    function = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64, ctypes.c_float,
                                ctypes.c_float)(address)
    return engine, function


def target_cpu() -> tuple[str, str]:
    """(CPU name, features) the kernels are compiled for: Numba's ``NUMBA_CPU_NAME`` and
    ``NUMBA_CPU_FEATURES`` when set (the Lambda build: x86-64-v3, AVX2 only), else the host's.
    The peak is that of the instructions the measured build can use: on a host with AVX-512 the
    Lambda build's kernels cannot reach the 16-lane peak, so it is not their denominator."""
    import llvmlite.binding as llvm

    cpu = os.environ.get("NUMBA_CPU_NAME")
    if cpu:
        return cpu, os.environ.get("NUMBA_CPU_FEATURES", "")
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def _has_avx512() -> bool:
    import llvmlite.binding as llvm

    cpu, features = target_cpu()
    if os.environ.get("NUMBA_CPU_NAME"):
        return "+avx512f" in features.split(",") or cpu in AVX512_CPUS
    return llvm.get_host_cpu_features().get("avx512f", False)


def measure(seconds: float = 0.3) -> dict[str, float]:
    """Best GFLOP/s of the microkernel for each vector width; ``peak_gflops`` is the largest."""
    out = {}
    for lanes in (8, 16) if _has_avx512() else (8,):
        engine, function = _compile(lanes)
        flops_per_iteration = 2 * lanes * ACCUMULATORS
        n = 1_000_000
        function(1000, 0.999, 0.001)
        best = 0.0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.thread_time()  # CPU time: a shared machine's other work left out
            function(n, 0.999, 0.001)
            elapsed = max(time.thread_time() - start, 1e-9)
            best = max(best, n * flops_per_iteration / elapsed / 1e9)
        out[f"fma{lanes * 32}_gflops"] = best
        del engine
    out["peak_gflops"] = max(out.values())
    return out


if __name__ == "__main__":
    print(measure())
