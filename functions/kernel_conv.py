"""Conv-layer blocks shared by the two CNN paths (``kernels_cnn``: sgemm between these loops;
``kernels_cnn_fused``: everything in Numba): im2col and its adjoint col2im, the fused bias + ReLU
+ max-pooling and its adjoint, and the transposes into and out of the dense head.

Layout inside a sub-block of n images: activations are (channels, n, height, width), "CNHW", so
that one conv layer over all n images is one product W (c_out, c_in k k) @ cols (c_in k k, n H W)
and its output is already the next layer's CNHW input; im2col reads its input through strides, so
the first layer reads the partition's rows ((n, C, H, W), image-major) in place. im2col rows are
ordered (c, dy, dx), the conv weight's (out, in, rows, columns) order, so the weights and their
gradients are used as stored. im2col and col2im run long
loops over all of a sub-block's images at once (per channel and kernel offset), with 0-based
indices into views: an index Numba cannot prove non-negative gets a wraparound check that keeps
LLVM from vectorizing (measured 5x slower). (The input gradient as a convolution of dZ with the
flipped kernels, im2col(dZ) and one product instead of W.T @ dZ and col2im, measured 5-30%
slower on the bench's shapes.)

Max-pooling keeps each window's first maximum (row-major: top-left, top-right, bottom-left,
bottom-right) in an int8 per pooled value, and ReLU is applied after the max (max and ReLU
commute; the bias is one per channel, so max(z) + b = max(z + b) with the same argmax): the
backward pass sends each pooled gradient to that one position when the pooled output is positive.
Every loop runs over contiguous rows with selects on loaded values, as the generic (SSE2) build
needs to vectorize.
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from functions.kernel_blocks import _JIT  # noqa: E402

SUM_CHUNK = 256  # float32 terms summed before a float64 add (rounding bounded, 2x faster)


@njit(**_JIT)
def im2col(source, strides, shape, kernel, cols):
    """cols[(c, dy, dx), (i, y, x)] = image i's channel c at (y + dy - pad, x + dx - pad), 0
    outside the image (pad = kernel // 2). ``source`` is a flat float32 vector holding the
    (height x width, row-major) plane of channel c of image i at c * strides[0] + i * strides[1];
    ``shape`` = (channels, images, height, width). CNHW activations have strides (n H W, H W),
    a partition's rows (H W, C H W).

    Per (c, dy, dx) one contiguous copy shifted by (dy - pad) rows and (dx - pad) columns, over
    all images at once when their planes are contiguous (else per image), then the rows and
    columns the shift brought in from outside the image set to zero."""
    channels, count, height, width = shape
    pad = kernel // 2
    plane = height * width
    runs, run = (1, count * plane) if strides[1] == plane else (count, plane)
    zero = np.float32(0.0)
    for c in range(channels):
        for dy in range(kernel):
            top, bottom = max(0, pad - dy), min(height, height + pad - dy)
            for dx in range(kernel):
                row = cols[(c * kernel + dy) * kernel + dx]
                shift = (dy - pad) * width + dx - pad
                first, last = max(0, -shift), min(run, run - shift)
                for r in range(runs):
                    out = row[r * run:(r + 1) * run]
                    start = c * strides[0] + r * strides[1] + shift
                    target, copied = out[first:last], source[start + first:start + last]
                    for t in range(last - first):
                        target[t] = copied[t]
                    for t in range(first):
                        out[t] = zero
                    tail = out[last:]
                    for t in range(run - last):
                        tail[t] = zero
                _zero_borders(row, count, height, width, top, bottom, max(0, pad - dx),
                              min(width, width + pad - dx))


@njit(**_JIT)
def _zero_borders(row, count, height, width, top, bottom, lo, hi):
    """Zero each image's rows outside [top, bottom) and every column outside [lo, hi) of one
    im2col row: whole columns at once, a long strided loop each, rather than a short loop per
    image row (the rows outside [top, bottom) are zero already, so they may be written again)."""
    plane = height * width
    zero = np.float32(0.0)
    if top > 0 or bottom < height:
        for i in range(count):
            image = row[i * plane:(i + 1) * plane]
            for t in range(top * width):
                image[t] = zero
            tail = image[bottom * width:]
            for t in range(plane - bottom * width):
                tail[t] = zero
    for x in range(lo):
        for r in range(count * height):
            row[r * width + x] = zero
    for x in range(width - hi):
        column = row[hi + x:]
        for r in range(count * height):
            column[r * width] = zero


@njit(**_JIT)
def col2im(dcols, G, kernel):
    """The adjoint of ``im2col`` on CNHW: G (C, n, H, W) = the sum over (dy, dx) of each im2col
    row shifted back. ``dcols``' positions that im2col would have zeroed are zeroed here first
    (it is scratch), so each (c, dy, dx) is one long add over all images: what would land in a
    neighbouring row or image adds zero (exact), and the order of the sums is fixed."""
    channels, count, height, width = G.shape
    pad = kernel // 2
    plane = height * width
    run = count * plane
    G[:] = 0.0
    for c in range(channels):
        target_all = G[c].reshape(run)
        for dy in range(kernel):
            top, bottom = max(0, pad - dy), min(height, height + pad - dy)
            for dx in range(kernel):
                row = dcols[(c * kernel + dy) * kernel + dx]
                _zero_borders(row, count, height, width, top, bottom, max(0, pad - dx),
                              min(width, width + pad - dx))
                shift = (dy - pad) * width + dx - pad
                first, last = max(0, -shift), min(run, run - shift)
                target, added = target_all[first + shift:last + shift], row[first:last]
                for t in range(last - first):
                    target[t] += added[t]


@njit(**_JIT)
def pool_forward(Z, b, A, arg, height, width, pool):
    """A = ReLU(max-pool(Z) + b), arg = each window's first argmax (int8). Z is the conv output
    (c, n H W); A and arg are (c, n, H // pool, W // pool)."""
    channels, count, pooled_h, pooled_w = A.shape
    zero = np.float32(0.0)
    for c in range(channels):
        bias = b[c]
        for i in range(count):
            z = Z[c, i * height * width:(i + 1) * height * width]
            for py in range(pooled_h):
                a, k = A[c, i, py], arg[c, i, py]
                z0 = z[py * pool * width:(py * pool + 1) * width]
                if pool == 1:
                    for px in range(pooled_w):
                        a[px] = max(z0[px] + bias, zero)
                        k[px] = 0
                    continue
                z1 = z[(py * pool + 1) * width:(py * pool + 2) * width]
                for px in range(pooled_w):
                    v0, v1 = z0[2 * px], z0[2 * px + 1]
                    v2, v3 = z1[2 * px], z1[2 * px + 1]
                    best = np.int8(1) if v1 > v0 else np.int8(0)
                    top = max(v0, v1)
                    best = np.int8(2) if v2 > top else best
                    top = max(top, v2)
                    best = np.int8(3) if v3 > top else best
                    top = max(top, v3)
                    a[px] = max(top + bias, zero)
                    k[px] = best


@njit(**_JIT)
def pool_backward(G, arg, A, dZ, height, width, pool):
    """The adjoint of ``pool_forward``: dZ (c, n H W) = G at each window's argmax where the
    pooled output A is positive, 0 everywhere else (zeroed first, then one store per window)."""
    channels, count, pooled_h, pooled_w = A.shape
    zero = np.float32(0.0)
    dZ[:] = zero
    for c in range(channels):
        d = dZ[c]
        for i in range(count):
            for py in range(pooled_h):
                g, a, k = G[c, i, py], A[c, i, py], arg[c, i, py]
                r0 = (i * height + py * pool) * width
                for px in range(pooled_w):
                    which = np.int64(k[px])
                    value = g[px]
                    d[r0 + pool * px + (which >> 1) * width + (which & 1)] = (
                        value if a[px] > zero else zero)


@njit(**_JIT)
def to_rows(A, F):
    """CNHW (c, n, h, w) -> one row per image (n, c h w), flattened in (C, H, W) order."""
    channels, count, height, width = A.shape
    plane = height * width
    for i in range(count):
        for c in range(channels):
            source = A[c, i].reshape(plane)
            target = F[i, c * plane:(c + 1) * plane]
            for t in range(plane):
                target[t] = source[t]


@njit(**_JIT)
def to_channels(F, A):
    """The inverse of ``to_rows``: (n, c h w) -> CNHW (c, n, h, w)."""
    channels, count, height, width = A.shape
    plane = height * width
    for i in range(count):
        for c in range(channels):
            source = F[i, c * plane:(c + 1) * plane]
            target = A[c, i].reshape(plane)
            for t in range(plane):
                target[t] = source[t]


@njit(**_JIT)
def add_row_sums(M, total, first):
    """total (float64) = (0 if ``first`` else total) + each row's sum of M (float32): the conv
    bias gradients, n H W terms per channel, summed in float32 over chunks of ``SUM_CHUNK`` (the
    vector width the generic build has) and the chunks in float64."""
    for r in range(M.shape[0]):
        row = M[r]
        acc = 0.0
        for start in range(0, row.shape[0], SUM_CHUNK):
            chunk = row[start:min(row.shape[0], start + SUM_CHUNK)]
            part = np.float32(0.0)
            for p in range(chunk.shape[0]):
                part += chunk[p]
            acc += part
        total[r] = acc if first else total[r] + acc
