"""Deletion with a guarantee (issue 13): exact unlearning (ACU's analytic head, SISA, S3T),
certified removal (Guo et al. 2020) and DP2Unlearning (DP-SGD, then fine-tuning).

Unlike ``methods/``, whose ``unlearn`` edits a trained model after the fact, these are
*training* procedures designed so that a later deletion is cheap: each module holds the
state a deletion needs (an inverse autocorrelation matrix, shard checkpoints, a Hessian
and a running residual bound) and answers a request with a ``Deletion`` saying which
guarantee it carries and the evidence for it (``guarantee.py``). ``adapter.py`` makes them
ordinary runs (``obliviate run --train NAME:... --method NAME``).
"""
