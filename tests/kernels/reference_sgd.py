"""Plain NumPy/Python twins of the SGD kernels, slow and obvious; used only by the tests."""

import numpy as np

MASK = (1 << 64) - 1


def splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def block_key(seed: int, epoch: int, block: int, n_blocks: int) -> int:
    return splitmix64(seed ^ splitmix64(epoch * n_blocks + block))


def shuffle_blocks(block_ptr, users, items, ratings, seed, epoch):
    n_blk = len(block_ptr) - 1
    for blk in range(n_blk):
        start, m = block_ptr[blk], block_ptr[blk + 1] - block_ptr[blk]
        key = block_key(seed, epoch, blk, n_blk)
        for t in range(m - 1, 0, -1):
            j = splitmix64((key + t) & MASK) % (t + 1)
            for arr in (users, items, ratings):
                arr[start + t], arr[start + j] = arr[start + j], arr[start + t]


def strata_order(n_blocks):
    """Blocks in the order an epoch visits them (any order within a stratum is equivalent)."""
    for s in range(n_blocks):
        for b in range(n_blocks):
            yield b * n_blocks + (b + s) % n_blocks


ORDER_SALT = 0x5851F42D4C957F2D


def visiting_order(block_ptr, blk, n_blk, seed, epoch, chunk):
    """The positions of block ``blk`` in the order an SVD epoch visits them: its chunks
    of ``chunk`` ratings permuted by Fisher-Yates on the block's salted stream."""
    start, end = int(block_ptr[blk]), int(block_ptr[blk + 1])
    n_chunks = -(-(end - start) // chunk)
    key = block_key(seed ^ ORDER_SALT, epoch, blk, n_blk)
    order = list(range(n_chunks))
    for t in range(n_chunks - 1, 0, -1):
        j = splitmix64((key + t) & MASK) % (t + 1)
        order[t], order[j] = order[j], order[t]
    return [p for c in order for p in range(start + c * chunk, min(start + (c + 1) * chunk, end))]


def svd_epoch(block_ptr, users, items, ratings, P, Q, bu, bi, mu, lr, reg, biased, n_blocks,
              seed, epoch, chunk):  # fmt: skip
    """``lr`` and ``reg`` are dicts with keys bu, bi, pu, qi."""
    sse = 0.0
    for blk in strata_order(n_blocks):
        for t in visiting_order(block_ptr, blk, n_blocks * n_blocks, seed, epoch, chunk):
            u, i = users[t], items[t]
            err = ratings[t] - (mu + bu[u] + bi[i] + P[u] @ Q[i])
            sse += err * err
            if biased:
                bu[u] += lr["bu"] * (err - reg["bu"] * bu[u])
                bi[i] += lr["bi"] * (err - reg["bi"] * bi[i])
            pu, qi = P[u].copy(), Q[i].copy()
            P[u] = pu + lr["pu"] * (err * qi - reg["pu"] * pu)
            Q[i] = qi + lr["qi"] * (err * pu - reg["qi"] * qi)
    return sse


def svdpp_implicit_sums(indptr, indices, Y):
    Z = np.zeros((len(indptr) - 1, Y.shape[1]), dtype=Y.dtype)
    for u in range(len(indptr) - 1):
        rated = indices[indptr[u] : indptr[u + 1]]
        if len(rated):
            Z[u] = Y[rated].sum(axis=0) / np.sqrt(len(rated))
    return Z


def svdpp_epoch(block_ptr, users, items, ratings, P, Q, Z, G, bu, bi, mu, lr, reg, n_blocks):
    sse = 0.0
    for blk in strata_order(n_blocks):
        for t in range(block_ptr[blk], block_ptr[blk + 1]):
            u, i = users[t], items[t]
            err = ratings[t] - (mu + bu[u] + bi[i] + Q[i] @ (P[u] + Z[u]))
            sse += err * err
            bu[u] += lr["bu"] * (err - reg["bu"] * bu[u])
            bi[i] += lr["bi"] * (err - reg["bi"] * bi[i])
            pu, qi = P[u].copy(), Q[i].copy()
            G[u] += err * qi
            P[u] = pu + lr["pu"] * (err * qi - reg["pu"] * pu)
            Q[i] = qi + lr["qi"] * (err * (pu + Z[u]) - reg["qi"] * qi)
    return sse


def svdpp_update_y(c_indptr, c_indices, Y, G, norm, lr_yj, reg_yj):
    for j in range(len(c_indptr) - 1):
        raters = c_indices[c_indptr[j] : c_indptr[j + 1]]
        if len(raters):
            grad = (norm[raters, None] * G[raters]).mean(axis=0)
            Y[j] += lr_yj * (grad - reg_yj * Y[j])
