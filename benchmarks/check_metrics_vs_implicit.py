"""Do our ranking metrics agree with implicit's on the same recommendations?

Fits implicit's ALS on ML-100K (80/20, seed 0), then scores the same model twice: with
``implicit.evaluation`` (ndcg_at_k, precision_at_k, mean_average_precision_at_k) and with
our ``ranking_from_lists`` on the top-10 lists implicit's own ``recommend`` returns.
Run in the peers' environment::

    benchmarks/.venv-peers/bin/python benchmarks/check_metrics_vs_implicit.py
"""

from __future__ import annotations

import numpy as np
from common import dataset, ranking, split, test_csr, write_results
from threadpoolctl import threadpool_limits


def main() -> None:
    from implicit.als import AlternatingLeastSquares
    from implicit.evaluation import mean_average_precision_at_k, ndcg_at_k, precision_at_k

    train, test = split(dataset("ml-100k").interactions)
    train_csr = train.csr.astype(np.float32)
    truth = test_csr(train, test)
    model = AlternatingLeastSquares(factors=50, iterations=15, random_state=0, num_threads=2)
    with threadpool_limits(1, "blas"):
        model.fit(train_csr, show_progress=False)
    users = np.arange(train_csr.shape[0])
    top, _ = model.recommend(users, train_csr[users], N=10, filter_already_liked_items=True)
    ours = ranking(top, truth, 10)
    theirs = {
        "ndcg@10": ndcg_at_k(model, train_csr, truth, K=10, show_progress=False),
        "precision@10": precision_at_k(model, train_csr, truth, K=10, show_progress=False),
        "map@10": mean_average_precision_at_k(model, train_csr, truth, K=10, show_progress=False),
    }
    hits = ours["precision@10"] * 10
    # implicit's precision, recomputed from the same lists: hits summed over the users
    # with test items, divided by the sum of min(k, n_test)
    n_test = np.diff(truth.indptr)
    rows = np.flatnonzero(n_test > 0)
    held = [truth.indices[truth.indptr[u] : truth.indptr[u + 1]] for u in rows]
    hit_counts = np.array([np.isin(top[u], h).sum() for u, h in zip(rows, held)])
    implicit_style = hit_counts.sum() / np.minimum(10, n_test[rows]).sum()
    lines = [
        "# Our ranking metrics vs implicit.evaluation, same model and lists",
        "",
        "| metric | ours | implicit | note |",
        "|---|---|---|---|",
        f"| ndcg@10 | {ours['ndcg@10']:.6f} | {theirs['ndcg@10']:.6f} | same definition |",
        f"| map@10 | {ours['map@10']:.6f} | {theirs['map@10']:.6f} | same definition |",
        f"| precision@10 | {ours['precision@10']:.6f} | {theirs['precision@10']:.6f} | implicit "
        "divides hits by min(k, n_test) per user, summed over users; ours by k per user, "
        "averaged |",
        f"| precision@10, implicit's definition on our side | {implicit_style:.6f} | "
        f"{theirs['precision@10']:.6f} | sum of hits / sum of min(k, n_test) |",
        "",
        f"(mean hits per user in the top 10: {hits:.3f})",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("metrics-vs-implicit", text)


if __name__ == "__main__":
    main()
