"""Plain NumPy twins of the implicit-feedback, top-k and fold-in kernels (tests only)."""

import numpy as np

from .reference_sgd import MASK, block_key, splitmix64


def ials_exact(indptr, indices, conf, Y, reg):
    """x_u = (Y^T Y + reg I + sum (c - 1) y y^T)^-1 sum c y, row by row."""
    k = Y.shape[1]
    Y = Y.astype(np.float64)
    X = np.zeros((len(indptr) - 1, k))
    for u in range(len(indptr) - 1):
        cols = indices[indptr[u] : indptr[u + 1]]
        c = conf[indptr[u] : indptr[u + 1]].astype(np.float64)
        A = Y.T @ Y + reg * np.eye(k) + (Y[cols].T * (c - 1)) @ Y[cols]
        X[u] = np.linalg.solve(A, (Y[cols] * c[:, None]).sum(axis=0))
    return X


def ials_block(indptr, indices, conf, X0, Y, YtY, block, lam=None):
    """One pass of block coordinate descent (iALS++) per row, written from the objective:
    each block of coordinates in turn set to the exact minimiser of the row's loss
    ``sum_obs c (1 - x.y)^2 + sum_unobs (x.y)^2 + reg |x|^2`` with the others fixed, the
    row's full system ``A = YtY + lam I + sum (c - 1) y y^T``, ``b = sum c y`` formed
    densely. Entries with a negative confidence are left out (unobserved)."""
    X = X0.astype(np.float64).copy()
    k = Y.shape[1]
    for u in range(len(indptr) - 1):
        sl = slice(indptr[u], indptr[u + 1])
        keep = conf[sl] >= 0
        cols, c = indices[sl][keep], conf[sl][keep].astype(np.float64)
        Yu = Y[cols].astype(np.float64)
        A = YtY.astype(np.float64) + (0.0 if lam is None else lam[u]) * np.eye(k)
        A += Yu.T @ ((c - 1)[:, None] * Yu)
        b = Yu.T @ c
        x = X[u]
        for b0 in range(0, k, block):
            B = slice(b0, min(k, b0 + block))
            # minimise over x_B: A_BB x_B = b_B - A_B,rest x_rest
            rest = b[B] - A[B] @ x + A[B, B] @ x[B]
            x[B] = np.linalg.solve(A[B, B], rest)
        X[u] = x
    return X


def ials_loss(indptr, indices, conf, X, Y, reg):
    """The full objective over every cell, computed densely."""
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    P = np.zeros((X.shape[0], Y.shape[0]))
    C = np.ones_like(P)
    for u in range(X.shape[0]):
        cols = indices[indptr[u] : indptr[u + 1]]
        P[u, cols] = 1.0
        C[u, cols] = conf[indptr[u] : indptr[u + 1]]
    loss = (C * (P - X @ Y.T) ** 2).sum() + reg * ((X**2).sum() + (Y**2).sum())
    return loss / len(indices)


def topk(scores, k, excl_indptr, excl_indices, allowed, bias=None):
    """Sort every row of ``scores + bias`` (ties: smaller column first) after removing
    exclusions; empty ``allowed`` or ``bias`` mean all columns and no bias."""
    n_rows, n_cols = scores.shape
    if len(allowed) == 0:
        allowed = np.ones(n_cols, dtype=bool)
    if bias is not None and len(bias):
        scores = (scores + bias).astype(np.float32)
    k = min(k, n_cols)
    idx = np.full((n_rows, k), -1)
    val = np.full((n_rows, k), -np.inf, dtype=np.float32)
    for r in range(n_rows):
        ok = allowed.copy()
        ok[excl_indices[excl_indptr[r] : excl_indptr[r + 1]]] = False
        ok &= np.isfinite(scores[r])
        cols = np.flatnonzero(ok)
        order = cols[np.lexsort((cols, -scores[r, cols]))][:k]
        idx[r, : len(order)] = order
        val[r, : len(order)] = scores[r, order]
    return idx, val


def ridge_rows(indptr, indices, targets, Q, lam_f, lam_b, fit_bias):
    k = Q.shape[1]
    n = len(indptr) - 1
    X, B = np.zeros((n, k)), np.zeros(n)
    for u in range(n):
        cols = indices[indptr[u] : indptr[u + 1]]
        if len(cols) == 0:
            continue
        Z = Q[cols].astype(np.float64)
        if fit_bias:
            Z = np.hstack([Z, np.ones((len(cols), 1))])
        pen = np.full(Z.shape[1], lam_f[u])
        if fit_bias:
            pen[-1] = lam_b[u]
        x = np.linalg.solve(Z.T @ Z + np.diag(pen), Z.T @ targets[indptr[u] : indptr[u + 1]])
        X[u] = x[:k]
        B[u] = x[k] if fit_bias else 0.0
    return X, B


def bpr_epoch(block_ptr, users, items, P, Q, bi, group_ptr, group_items, seen_ptr, seen_idx,
              lr, reg_u, reg_i, reg_b, n_blocks, seed, epoch, max_tries):  # fmt: skip
    n_blk = n_blocks * n_blocks
    useed = seed ^ 0x5BD1E995
    loss, pairs = 0.0, 0
    for s in range(n_blocks):
        for b in range(n_blocks):
            g = (b + s) % n_blocks
            blk = b * n_blocks + g
            g_start, g_size = int(group_ptr[g]), int(group_ptr[g + 1] - group_ptr[g])
            if g_size == 0:
                continue
            key = block_key(useed, epoch, blk, n_blk)
            draw = 0
            for t in range(block_ptr[blk], block_ptr[blk + 1]):
                u, i = users[t], items[t]
                j = -1
                for _ in range(max_tries):
                    cand = group_items[g_start + splitmix64((key + draw) & MASK) % g_size]
                    draw += 1
                    if cand not in seen_idx[seen_ptr[u] : seen_ptr[u + 1]]:
                        j = cand
                        break
                if j < 0:
                    continue
                x = bi[i] - bi[j] + P[u] @ (Q[i] - Q[j])
                loss += np.log1p(np.exp(-x))
                pairs += 1
                z = np.float32(1 / (1 + np.exp(x)))
                bi[i] += lr * (z - reg_b * bi[i])
                bi[j] += lr * (-z - reg_b * bi[j])
                pu, qi, qj = P[u].copy(), Q[i].copy(), Q[j].copy()
                P[u] = pu + lr * (z * (qi - qj) - reg_u * pu)
                Q[i] = qi + lr * (z * pu - reg_i * qi)
                Q[j] = qj + lr * (-z * pu - reg_i * qj)
    return loss, pairs


def bpr_fold_in(indptr, indices, Q, bi, neg_items, lr, reg, n_epochs, seed, max_tries):
    """User vectors by BPR SGD against fixed items, negatives drawn from ``neg_items``."""
    n, k = len(indptr) - 1, Q.shape[1]
    X = np.zeros((n, k), dtype=np.float32)
    useed = seed ^ 0x2545F491
    for u in range(n):
        start, end = indptr[u], indptr[u + 1]
        if end == start or end - start >= Q.shape[0]:
            continue
        key = block_key(useed, 0, u, n)
        draw = 0
        for _ in range(n_epochs):
            for t in range(start, end):
                i = indices[t]
                j = -1
                for _try in range(max_tries):
                    cand = neg_items[splitmix64((key + draw) & MASK) % len(neg_items)]
                    draw += 1
                    if cand not in indices[start:end]:
                        j = cand
                        break
                if j < 0:
                    continue
                d = Q[i] - Q[j]
                z = np.float32(1 / (1 + np.exp(bi[i] - bi[j] + X[u] @ d)))
                X[u] += lr * (z * d - reg * X[u])
    return X


def residual_sse(indptr, indices, data, P, Q, bu, bi, mu):
    total = 0.0
    for u in range(len(indptr) - 1):
        for t in range(indptr[u], indptr[u + 1]):
            i = indices[t]
            total += (data[t] - mu - bu[u] - bi[i] - P[u] @ Q[i]) ** 2
    return total


def nmf_half_step(indptr, indices, data, P, Q, b_own, b_other, mu, reg, reg_bias, biased):
    """Surprise-style multiplicative update of every row of P, then the ridge bias step."""
    sse = 0.0
    for u in range(len(indptr) - 1):
        cols = indices[indptr[u] : indptr[u + 1]]
        r = data[indptr[u] : indptr[u + 1]].astype(np.float64)
        if len(cols) == 0:
            continue
        Qu = Q[cols].astype(np.float64)
        est = Qu @ P[u]
        if biased:
            est = est + mu + b_own[u] + b_other[cols]
        num = Qu.T @ r
        den = Qu.T @ est + len(cols) * reg * P[u]
        P[u] = np.where(den > 0, P[u] * num / np.where(den > 0, den, 1), P[u])
        e = r - Qu @ P[u]
        if biased:
            e = e - mu - b_other[cols]
            b_own[u] = e.sum() / (len(cols) * (1 + reg_bias))
            e = e - b_own[u]
        sse += (e**2).sum()
    return sse
