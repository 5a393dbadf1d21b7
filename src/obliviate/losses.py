"""Loss functions shared by methods: pure functions of tensors (STYLE.md habit 4)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def kl_to_teacher(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                  temperature: float = 1.0) -> torch.Tensor:
    """Mean over rows of KL(teacher || student) on temperature-softened softmaxes.

    Multiplied by T^2 so gradients keep their scale across temperatures (Hinton et al. 2015).
    """
    t = temperature
    log_s = F.log_softmax(student_logits / t, dim=-1)
    log_t = F.log_softmax(teacher_logits / t, dim=-1)
    kl = (log_t.exp() * (log_t - log_s)).sum(dim=-1)
    return kl.mean() * t * t


# -- Language-model unlearning objectives. Each takes per-sample quantities and returns the
# -- batch mean, so a method composes it with any Task (DESIGN.md, "Tasks make methods ...").

def npo_loss(logp: torch.Tensor, ref_logp: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO (Zhang et al. 2024, Eq. 3): mean of ``-(2/beta) log sigmoid(-beta (logp - ref_logp))``.

    ``logp``/``ref_logp`` are (B,) SEQUENCE log-likelihoods under the model and the frozen
    reference. Its gradient is GA's re-weighted by ``2 sigmoid(beta * log-ratio)``, which fades
    once a sample is unlikely; as beta -> 0 it becomes gradient ascent (their Prop. 1).
    """
    return (-2.0 / beta * F.logsigmoid(-beta * (logp - ref_logp))).mean()


def tnpo_token_weights(logp: torch.Tensor, ref_logp: torch.Tensor, beta: float,
                       alpha: float = 0.0) -> torch.Tensor:
    """TNPO / WTNPO (Wang et al. 2025) weight of each token: ``2 sigmoid(beta * (logp -
    ref_logp)) * exp(alpha * logp)``, i.e. ``2 p^(beta + alpha) / (p^beta + p_ref^beta)``.

    ``logp``/``ref_logp`` are per-TOKEN log-probabilities under the model and the reference.
    With ``alpha = 0`` it is the weight token-wise NPO puts on each token's gradient ascent.
    """
    return 2.0 * torch.sigmoid(beta * (logp - ref_logp)) * torch.exp(alpha * logp)


def simnpo_loss(mean_nll: torch.Tensor, beta: float, gamma: float) -> torch.Tensor:
    """SimNPO (Fan et al. 2024, "Simplicity prevails"), mean over the batch of
    ``-(2/beta) log sigmoid(-(beta/|y|) log pi(y|x) - gamma)``.

    ``mean_nll`` is (B,) ``-log pi(y|x) / |y|`` (length-normalised, no reference model). The
    margin ``gamma`` is added AFTER the beta scaling, as in the paper's equation; the reference
    code and open-unlearning compute ``beta * (mean_nll - gamma)``, which scales the margin
    by beta. The two agree at their published gamma = 0.
    """
    return (-2.0 / beta * F.logsigmoid(beta * mean_nll - gamma)).mean()


def dpo_loss(logp_w: torch.Tensor, logp_l: torch.Tensor, ref_logp_w: torch.Tensor,
             ref_logp_l: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO (Rafailov et al. 2023, Eq. 7), mean over the batch of
    ``-log sigmoid(beta ((logp_w - ref_logp_w) - (logp_l - ref_logp_l)))``.

    ``_w`` the preferred answer (IdkPO: a refusal), ``_l`` the rejected one (the forget
    answer); all (B,) sequence log-likelihoods. Without the ``2/beta`` factor NPO has: TOFU's
    ``dpo`` loss (locuslab/tofu ``dataloader.py``) is plain DPO.
    """
    margin = (logp_w - ref_logp_w) - (logp_l - ref_logp_l)
    return (-F.logsigmoid(beta * margin)).mean()


def inverted_hinge_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Inverted hinge loss (Cha et al., LoKU, ICLR 2025), mean over the N rows of
    ``1 + p(y) - max_{v != y} p(v)`` with ``p = softmax(logits)``, (N, V) and (N,).

    In [0, 2]; minimising it lowers the true token only until another token overtakes it,
    rather than pushing all its mass anywhere as gradient ascent does.
    """
    p = logits.float().softmax(dim=-1)
    true = p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    others = p.scatter(-1, labels.unsqueeze(-1), float("-inf")).amax(dim=-1)
    return (1.0 + true - others).mean()


# f-divergences as (g, f* o g): the output activation g and the conjugate of the activation,
# from the f-GAN table (Nowozin et al. 2016) as FLAT's reference code (UCSC-REAL/FLAT
# ``dataloader.py::get_contrastive_loss``) uses them.
F_DIVERGENCES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor],
                               Callable[[torch.Tensor], torch.Tensor]]] = {
    "KL": (lambda v: v, lambda v: torch.exp(v - 1.0)),
    "JS": (lambda v: math.log(2.0) - F.softplus(-v),
           lambda v: v + F.softplus(-v) - math.log(2.0)),
    "TV": (lambda v: torch.tanh(v) / 2.0, lambda v: torch.tanh(v) / 2.0),
    "Pearson": (lambda v: v, lambda v: v * v / 4.0 + v),
}


def flat_loss(p_template: torch.Tensor, p_forget: torch.Tensor,
              divergence: str = "KL") -> torch.Tensor:
    """FLAT (Wang et al., ICLR 2025): minus the variational f-divergence estimate
    ``E[g(P_e)] - E[f*(g(P_f))]`` between the template (refusal) answers and the forget
    answers, with ``P`` each answer's average token probability, (B,) each.

    KL: ``-P_e + exp(P_f - 1)``. Minimising raises the template's probability and lowers the
    forget answer's, each weighted by the divergence's own importance weight.
    """
    if divergence not in F_DIVERGENCES:
        raise ValueError(f"unknown f-divergence {divergence!r}; valid: "
                         f"{', '.join(F_DIVERGENCES)}")
    g, conj = F_DIVERGENCES[divergence]
    return (-g(p_template) + conj(p_forget)).mean()


def masked_mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """RMU's activation distance: per sample, the mean over its real tokens (``mask``) of the
    mean over features of ``(a - b)^2``; then the mean over samples. (B, T, D) or (B, D).

    The per-feature mean is ``torch.nn.functional.mse_loss`` as the WMDP reference code uses;
    it is the paper's squared norm divided by D, the same for both RMU terms.
    """
    sq = (a.float() - b.float()).pow(2).mean(dim=-1)
    if sq.dim() == 1:
        return sq.mean()
    m = torch.ones_like(sq) if mask is None else mask.to(sq.dtype)
    return ((sq * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)).mean()
