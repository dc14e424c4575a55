"""Explanation methods on toy models with a known answer, backgrounds and features."""
from __future__ import annotations

import itertools
from collections import Counter
from math import comb

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import pairwise_distances

from glmxai.data.encoding import codes_to_one_hot, to_codes
from glmxai.data.shuffling import composition_matched, dinucleotide_shuffle, dinucleotide_shuffles, make_backgrounds
from glmxai.models.cnn import CNNBackbone
from glmxai.models.hyenadna import HyenaDNABackbone
from glmxai.models.tokenizers import CharTokenizer, OneHotTokenizer
from glmxai.models.toys import MOTIF, START, MotifDetector, TokenMotifDetector, TripletTokenizer
from glmxai.options import OptionError
from glmxai.predictor import BatchedPredictor
from glmxai.xai import features as ft
from glmxai.xai.lime import interaction_terms, projected_terms, random_masks
from glmxai.xai.registry import build_method

from xai_toys import toy_sequences

MOTIF_POSITIONS = set(range(START, START + len(MOTIF)))
FAST = {  # small sample counts: the toys are easy, the tests must be quick
    "ism": {},
    "ig": {"n_steps": 16},
    "lime": {"num_samples": 300},
    "shap": {"permutations": 1, "n_backgrounds": 1},
    "anchor": {"batch_size": 32, "min_samples_start": 128, "coverage_samples": 200},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _explain(backbone, name: str, n: int = 2, **params):
    model = BatchedPredictor(backbone, batch_size=512)
    method = build_method({"name": name, **FAST[name], **params}, model, tss=249)
    codes, labels = toy_sequences(2 * n, seed=1)
    codes = codes[labels == 1]
    probs = model.p_promoter(codes)
    results = method.explain(codes, probs, [np.random.default_rng([0, i]) for i in range(len(codes))])
    return codes, probs, results, model


@pytest.mark.parametrize("name", ["ism", "ig", "lime", "shap", "anchor"])
def test_every_method_ranks_the_motif_on_top_of_a_one_hot_model(name):
    codes, probs, results, model = _explain(MotifDetector(OneHotTokenizer()), name)
    assert (probs > 0.95).all()
    for result in results:
        assert result.scores.shape == (codes.shape[1],) and result.scores.dtype == np.float32
        top = set(np.argsort(-result.scores, kind="stable")[: len(MOTIF)].tolist())
        assert top == MOTIF_POSITIONS  # positive scores = toward the promoter class
        assert result.scores[list(MOTIF_POSITIONS)].min() > 0
    per_sequence = (model.evaluations - len(codes)) / len(codes)  # after the unperturbed predictions
    n_features = codes.shape[1] // 6
    # LIME's first sample is the sequence itself: its prediction is reused when LIME explains p, not its log-odds
    expected = {"ism": 3 * codes.shape[1], "ig": FAST["ig"]["n_steps"], "lime": FAST["lime"]["num_samples"],
                "shap": FAST["shap"]["permutations"] * (2 * n_features + 1) * FAST["shap"]["n_backgrounds"]}
    if name in expected:
        assert per_sequence == expected[name]
    else:  # anchors: whole bandit batches, at least the initial samples
        assert per_sequence % FAST["anchor"]["batch_size"] == 0 and per_sequence >= FAST["anchor"]["min_samples_start"]


@pytest.mark.parametrize("name,params", [("ig", {}), ("ig", {"baseline": "expected"}), ("lime", {"features": "tokens"}),
                                         ("shap", {"features": "tokens"}), ("anchor", {"features": "tokens"})])
def test_token_model_path_maps_back_to_the_motif_nucleotides(name, params):
    codes, _, results, _ = _explain(TokenMotifDetector(TripletTokenizer()), name, **params)
    for result in results:
        top = set(np.argsort(-result.scores, kind="stable")[: len(MOTIF)].tolist())
        assert top == MOTIF_POSITIONS


def test_ism_scores_and_deltas_follow_the_single_mutants():
    codes, probs, results, model = _explain(MotifDetector(OneHotTokenizer()), "ism", n=1)
    delta = results[0].arrays["delta"]
    assert delta.shape == (4, codes.shape[1])
    assert model.evaluations == 1 + 3 * codes.shape[1]  # unperturbed + L x 3 mutants
    assert (delta[codes[0], np.arange(codes.shape[1])] == 0).all()
    np.testing.assert_allclose(results[0].scores, -delta.sum(0) / 3, rtol=1e-6)


def test_ism_on_the_logit_sees_what_a_saturated_probability_hides():
    """The toy's log-odds fall by ``scale`` per motif base lost (its definition): ISM on the logit
    recovers exactly that, while ISM on p, at p = 1 - 1e-13, sees almost nothing."""
    backbone = MotifDetector(OneHotTokenizer())
    with torch.no_grad():
        backbone.scale.fill_(20.0)
    codes, _, results, _ = _explain(backbone, "ism", n=2, link="logit")
    _, _, on_p, _ = _explain(backbone, "ism", n=2)
    motif = to_codes(MOTIF)
    for sequence, logit, p in zip(codes, results, on_p):
        matched = np.zeros(len(sequence), dtype=bool)
        matched[START : START + len(MOTIF)] = sequence[START : START + len(MOTIF)] == motif
        assert matched.sum() == len(MOTIF)  # a whole motif: p saturates
        np.testing.assert_allclose(logit.scores[matched], 20.0, rtol=1e-4)
        np.testing.assert_allclose(logit.scores[~matched], 0.0, atol=1e-4)
        assert np.abs(p.scores).max() < 1e-3


def _motif_log_odds_per_feature(backbone, codes: np.ndarray, backgrounds: np.ndarray, window: int) -> np.ndarray:
    """The toy's log-odds change (F,) from replacing each ``window``-bp feature of ``codes`` by the
    backgrounds' bases, averaged over the backgrounds: scale x (motif matches lost), from the
    toy's definition, not through any explainer."""
    motif = to_codes(MOTIF)
    matches = np.zeros((len(backgrounds) + 1, codes.shape[0]))
    for row, sequence in enumerate([codes, *backgrounds]):
        matches[row, START : START + len(MOTIF)] = sequence[START : START + len(MOTIF)] == motif
    per_feature = np.add.reduceat(matches, np.arange(0, codes.shape[0], window), axis=1)
    return backbone.scale.item() * (per_feature[0] - per_feature[1:].mean(axis=0))


@pytest.mark.parametrize("name,params", [("shap", {"n_backgrounds": 3, "permutations": 1}),
                                         ("shap", {"n_backgrounds": 3, "permutations": 2,
                                                   "permutation_per_background": False}),
                                         ("lime", {"n_backgrounds": 1, "num_samples": 1000, "ridge_alpha": 1e-6,
                                                   "interactions": 8})])
def test_log_odds_link_recovers_a_game_additive_in_log_odds_exactly(name, params):
    """With 3-bp features the toy's motif spans two features whose log-odds add: in log-odds SHAP
    is exact for any permutation (two seeds agree) and LIME's linear model fits exactly, also
    through its regression adjustment; both equal the toy's own per-feature effects."""
    backbone = MotifDetector(OneHotTokenizer())
    codes = toy_sequences(2, seed=3)[0][:1]
    method = build_method({"name": name, "window": 3, "link": "logit", "background_seed": 0, **params},
                          BatchedPredictor(backbone), tss=249)
    prob = float(BatchedPredictor(backbone).p_promoter(codes)[0])
    results = [method.explain_one(codes[0], prob, np.random.default_rng(seed)) for seed in (1, 2)]
    runs = [result.scores for result in results]
    if name == "lime":  # through the regression adjustment (100 features, at most 281 interaction terms)
        assert all(result.record["adjusted"] for result in results)
    expected = _motif_log_odds_per_feature(backbone, codes[0], method.backgrounds_of(codes[0], None), 3)
    assert np.abs(expected).max() > 1  # the motif's features carry the effect
    for scores in runs:
        np.testing.assert_allclose(np.add.reduceat(scores, np.arange(0, codes.shape[1], 3)), expected, atol=1e-3)
    assert method.score_units.startswith("promoter log-odds")


def test_ig_default_budget_is_100_expected_gradient_samples_or_50_path_points():
    for backbone, baseline, evaluations in ((MotifDetector(OneHotTokenizer()), "expected", 100),
                                            (TokenMotifDetector(TripletTokenizer()), "zeros", 50)):
        model = BatchedPredictor(backbone)
        method = build_method({"name": "ig", "n_steps": None}, model, tss=249)
        codes = toy_sequences(2, seed=5)[0][:1]
        method.explain_one(codes[0], 0.5, np.random.default_rng(0))
        assert (method.baseline, model.evaluations) == (baseline, evaluations)


def _lime_kernel_weight(kept: np.ndarray, width: float) -> np.ndarray:
    """LIME's sample weight (M,) of "kept" vectors (M, F), as LIME computes it: its exponential
    kernel on sklearn's cosine distance (x100) to the unperturbed all-ones vector."""
    distances = pairwise_distances(kept, np.ones((1, kept.shape[1])), metric="cosine").ravel() * 100
    return np.sqrt(np.exp(-(distances**2) / width**2))


def test_lime_draws_mask_sizes_in_proportion_to_lime_kernel_weights():
    """Importance sampling keeps LIME's objective: k masked features are drawn as often as LIME's
    kernel (on sklearn's cosine distance x100, as LIME computes it) would weight them."""
    n_features, width, n = 50, 25.0, 20001
    keep = random_masks(n, n_features, np.random.default_rng(0), width)
    assert keep[0].all()
    vectors = np.ones((n_features - 1, n_features))
    for masked in range(1, n_features):
        vectors[masked - 1, :masked] = 0
    weights = _lime_kernel_weight(vectors, width)
    observed = np.bincount((~keep[1:]).sum(axis=1), minlength=n_features)[1:]
    assert observed.sum() == n - 1
    assert chisquare(observed, weights / weights.sum() * (n - 1)).pvalue > 0.001


def _every_lime_mask(n_features: int, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Every "kept" vector LIME's sampler can draw (k = 1..F-1 masked) (M, F) and its probability
    (M,): LIME's kernel weight on sklearn's cosine distance x100, shared by the C(F, k) masks of k."""
    masks = np.array([bits for bits in itertools.product([0.0, 1.0], repeat=n_features)
                      if 1 <= n_features - sum(bits) <= n_features - 1])
    masked = (n_features - masks.sum(axis=1)).astype(int)
    probability = _lime_kernel_weight(masks, width) / np.array([comb(n_features, k) for k in masked])
    return masks, probability / probability.sum()


def test_lime_says_once_when_too_few_samples_leave_the_regression_adjustment_off(caplog):
    """300 samples for 50 features and their interaction terms: the linear fit, one warning for two
    sequences; 1,000 samples: adjusted, no warning."""
    codes, _, results, _ = _explain(MotifDetector(OneHotTokenizer()), "lime", num_samples=300)
    assert len(results) == 2 and not any(result.record["adjusted"] for result in results)
    assert [r.message.startswith("lime: 300 samples are fewer") for r in caplog.records].count(True) == 1
    caplog.clear()
    _, _, results, _ = _explain(MotifDetector(OneHotTokenizer()), "lime", num_samples=1000)
    assert all(result.record["adjusted"] for result in results) and not caplog.records


@pytest.mark.parametrize("width", [12.0, 25.0])
def test_lime_projects_interaction_terms_as_weighted_least_squares_over_every_mask(width):
    masks, probability = _every_lime_mask(6, width)
    terms = [(0, 1), (2, 4, 5), (1, 3), (0, 1, 2, 3)]
    for term, ours in zip(terms, projected_terms(terms, 6, width)):
        reference = LinearRegression().fit(masks, masks[:, list(term)].prod(axis=1), sample_weight=probability)
        np.testing.assert_allclose(ours, np.r_[reference.intercept_, reference.coef_], atol=1e-12)


def test_lime_regression_adjustment_estimates_lime_estimand_with_less_noise():
    """On a game of 8 features with strong interactions, LIME's estimand (weighted least squares
    over every mask) is recovered exactly from 400 samples when the interactions are in the
    adjustment's fit (orders 2-3), and without bias and with less spread than LIME's linear fit
    when one (order 4) is not."""
    n_features, width, n = 8, 25.0, 400
    masks, probability = _every_lime_mask(n_features, width)

    def game(z):
        return z @ np.arange(1.0, 9.0) + 6 * z[:, 0] * z[:, 1] - 5 * z[:, 2] * z[:, 3] * z[:, 4] + 4 * z[:, 6] * z[:, 7]

    def order_four(z):
        return game(z) + 8 * z[:, 2:6].prod(axis=1)

    model = BatchedPredictor(MotifDetector(OneHotTokenizer()))
    lime = build_method({"name": "lime", "interactions": 8, "ridge_alpha": 1e-9, "kernel_width": width}, model, tss=249)
    narrow = build_method({"name": "lime", "interactions": 3, "ridge_alpha": 1e-9, "kernel_width": width}, model,
                          tss=249)
    for method, f in ((lime, game), (narrow, order_four)):
        estimand = LinearRegression().fit(masks, f(masks), sample_weight=probability).coef_
        plain, adjusted = [], []
        for seed in range(30):
            kept = random_masks(n, n_features, np.random.default_rng(seed), width).astype(float)
            linear = Ridge(alpha=1e-9).fit(kept, f(kept)).coef_
            plain.append(linear)
            terms = interaction_terms(linear, method.interactions)
            adjusted.append(method.adjusted_weights(kept, f(kept), terms)[1])
        plain, adjusted = np.array(plain), np.array(adjusted)
        if method is lime:
            np.testing.assert_allclose(adjusted, np.broadcast_to(estimand, adjusted.shape), atol=1e-6)
            assert np.abs(plain - estimand).max() > 0.1
        else:
            spread = adjusted.std(axis=0)
            assert np.abs(adjusted.mean(axis=0) - estimand).max() < 4 * spread.max() / np.sqrt(len(adjusted))
            assert (spread ** 2).sum() < 0.5 * (plain.std(axis=0) ** 2).sum()


SHUFFLES = {"background": "dinuc_shuffle", "n_backgrounds": 4}


def test_shared_backgrounds_depend_on_the_sequence_and_the_background_seed_only():
    model = BatchedPredictor(MotifDetector(OneHotTokenizer()))
    codes = toy_sequences(2, seed=4)[0]
    shared = build_method({"name": "lime", **SHUFFLES, "background_seed": 0}, model, tss=249)
    pools = [shared.backgrounds_of(codes[0], np.random.default_rng(seed)) for seed in (1, 2)]
    np.testing.assert_array_equal(pools[0], pools[1])  # the run's generator does not matter
    other_seed = build_method({"name": "lime", **SHUFFLES, "background_seed": 1}, model, tss=249)
    assert not np.array_equal(other_seed.backgrounds_of(codes[0], None), pools[0])
    assert not np.array_equal(shared.backgrounds_of(codes[1], None), pools[0])
    per_run = build_method({"name": "lime", **SHUFFLES, "background_seed": None}, model, tss=249)
    assert not np.array_equal(*(per_run.backgrounds_of(codes[0], np.random.default_rng(seed)) for seed in (1, 2)))
    masked = build_method({"name": "lime"}, model, tss=249)  # the default, N: no random choice at all
    assert (masked.backgrounds_of(codes[0], np.random.default_rng(1)) == 4).all()
    with pytest.raises(ValueError, match="unknown xai.link"):
        build_method({"name": "shap", "link": "probit"}, model, tss=249)


def test_anchor_rule_names_the_motif_with_its_position():
    _, _, results, _ = _explain(MotifDetector(OneHotTokenizer()), "anchor", n=1)
    record = results[0].record
    assert record["rule"].startswith(f"{MOTIF} at {START - 249:+d}..{START + 5 - 249:+d}")
    assert record["rule"].endswith("-> promoter")
    assert record["precision"] >= 0.9 and 0 < record["coverage"] <= 1


@pytest.mark.parametrize("name", ["lime"])  # SHAP and Anchors are exact on this toy: any seed agrees
def test_the_seed_decides_a_sampled_explanation(name):
    """The same per-sequence generator gives the same scores, another one other scores: the
    samples come from that generator and nothing else."""
    model = BatchedPredictor(MotifDetector(OneHotTokenizer()), batch_size=512)
    method = build_method({"name": name, **FAST[name]}, model, tss=249)
    codes = toy_sequences(2, seed=1)[0][:1]
    prob = float(model.p_promoter(codes)[0])
    first, again, other = (method.explain_one(codes[0], prob, np.random.default_rng(seed)).scores
                           for seed in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def _dinucleotides(codes: np.ndarray) -> np.ndarray:
    return np.bincount(codes[:-1].astype(int) * 5 + codes[1:], minlength=25)


def test_dinucleotide_shuffle_keeps_length_composition_and_dinucleotide_counts():
    rng = np.random.default_rng(0)
    codes = to_codes("ACGTTTATAAAGGGCGGNNACGCGCATATATCCAATGG" * 5)
    shuffles = [dinucleotide_shuffle(codes, rng) for _ in range(20)]
    for shuffled in shuffles:
        assert shuffled.shape == codes.shape and shuffled.dtype == codes.dtype
        np.testing.assert_array_equal(_dinucleotides(shuffled), _dinucleotides(codes))
        assert shuffled[0] == codes[0] and shuffled[-1] == codes[-1]
    assert len({s.tobytes() for s in shuffles}) == len(shuffles)  # really random


def test_dinucleotide_shuffles_are_uniform_over_all_sequences_with_the_same_dinucleotides():
    """Against brute force: every arrangement of the inner bases that keeps the dinucleotide
    counts (and the ends) is drawn, nothing else is, and all equally often (chi-square)."""
    codes = to_codes("ACGACTAGCAT")
    target = _dinucleotides(codes)
    arrangements = {np.array([codes[0], *inner, codes[-1]], dtype=codes.dtype).tobytes()
                    for inner in set(itertools.permutations(codes[1:-1].tolist()))}
    valid = sorted(a for a in arrangements if (_dinucleotides(np.frombuffer(a, dtype=codes.dtype)) == target).all())
    draws = Counter(row.tobytes() for row in dinucleotide_shuffles(codes, 200 * len(valid), np.random.default_rng(1)))
    assert set(draws) == set(valid) and len(valid) > 10
    assert chisquare([draws[a] for a in valid]).pvalue > 0.001


def test_other_backgrounds_keep_length_and_composition():
    rng = np.random.default_rng(0)
    codes = to_codes("AACAAACAAAAC" * 25)
    drawn = composition_matched(codes, rng)
    assert drawn.shape == codes.shape and set(drawn.tolist()) <= {0, 1}
    assert abs((drawn == 1).mean() - 1 / 4) < 0.1
    assert (make_backgrounds(codes, "N", 3, rng) == 4).all()
    with pytest.raises(ValueError, match="unknown background"):
        make_backgrounds(codes, "zeros", 1, rng)


def test_perturbation_replaces_features_in_place_and_spread_keeps_sums():
    features = ft.windows(20, 6)
    np.testing.assert_array_equal(features.spans, [[0, 6], [6, 12], [12, 18], [18, 20]])
    codes = np.zeros(20, dtype=np.int8)
    backgrounds = np.full((2, 20), 3, dtype=np.int8)
    backgrounds[1] = 2
    keep = np.array([[True, False, True, True], [False, True, True, False]])
    out = ft.compose(codes, backgrounds, keep, np.array([0, 1]), features)
    assert out.shape == (2, 20)
    np.testing.assert_array_equal(out[0], [0] * 6 + [3] * 6 + [0] * 8)
    np.testing.assert_array_equal(out[1], [2] * 6 + [0] * 12 + [2] * 2)
    scores = ft.spread(np.array([6.0, -1.0, 0.0, 2.0]), features.spans, 20)
    assert scores[:6].tolist() == [1.0] * 6 and scores[18:].tolist() == [1.0, 1.0]
    assert scores.sum() == pytest.approx(7.0)


def test_unknown_method_and_bad_parameters_are_clear_errors():
    model = BatchedPredictor(MotifDetector(OneHotTokenizer()))
    with pytest.raises(ValueError, match="unknown explanation method 'nope'"):
        build_method({"name": "nope"}, model, tss=249)
    with pytest.raises(ValueError, match="xai=lime: bad parameters"):
        build_method({"name": "lime", "samples": 10}, model, tss=249)
    with pytest.raises(ValueError, match="unknown xai.features"):
        build_method({"name": "shap", "features": "kmers"}, model, tss=249)
    with pytest.raises(OptionError, match="xai.num_samples='10': must be an integer >= 1"):  # checked before building
        build_method({"name": "lime", "num_samples": "10"}, model, tss=249)
    with pytest.raises(OptionError, match="xai.threshold=1.5: must be a finite number > 0 and <= 1"):
        build_method({"name": "anchor", "threshold": 1.5}, model, tss=249)


def _manual_integrated_gradients(backbone, codes: np.ndarray, n_steps: int, centre: bool) -> np.ndarray:
    """IG of p(promoter) from the all-N baseline by torch.autograd on Gauss-Legendre points,
    per-position channel-mean gradient removed if ``centre``; per-nucleotide scores (L,)."""
    x = codes_to_one_hot(codes[None, :])
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    total = torch.zeros_like(x)
    for alpha, weight in zip((nodes + 1) / 2, weights / 2):
        point = (float(alpha) * x).requires_grad_()
        p = torch.softmax(backbone.forward_embeddings(point, {}), dim=-1)[:, 1]
        (grad,) = torch.autograd.grad(p.sum(), point)
        total += float(weight) * (grad - grad.mean(dim=1, keepdim=True) if centre else grad)
    return (x * total).sum(dim=1)[0].numpy()


@pytest.mark.parametrize("correction", [True, False])
def test_ig_equals_autograd_integrated_gradients_with_and_without_the_one_hot_correction(correction):
    torch.manual_seed(0)
    backbone = CNNBackbone(OneHotTokenizer(), seq_len=300, channels=(8, 8), hidden=8).eval()
    codes = np.random.default_rng(0).integers(0, 4, size=300).astype(np.int8)
    method = build_method({"name": "ig", "n_steps": 8, "baseline": "zeros", "gradient_correction": correction},
                          BatchedPredictor(backbone), tss=249)
    scores = method.explain_one(codes, 0.5, np.random.default_rng(0)).scores
    np.testing.assert_allclose(scores, _manual_integrated_gradients(backbone, codes, 8, correction),
                               rtol=1e-4, atol=1e-7)
    other = _manual_integrated_gradients(backbone, codes, 8, not correction)
    assert np.abs(scores - other).max() > 10 * np.abs(scores).max() * 1e-4  # the correction changes the scores


def test_expected_gradients_rank_the_motif_and_repeat_with_the_seed():
    codes, _, results, model = _explain(MotifDetector(OneHotTokenizer()), "ig", n=1, baseline="expected")
    top = set(np.argsort(-results[0].scores, kind="stable")[: len(MOTIF)].tolist())
    assert top == MOTIF_POSITIONS
    assert model.evaluations == 1 + FAST["ig"]["n_steps"]
    again = _explain(MotifDetector(OneHotTokenizer()), "ig", n=1, baseline="expected")[2][0]
    np.testing.assert_array_equal(results[0].scores, again.scores)
    assert build_method({"name": "ig"}, model, tss=249).baseline == "expected"  # auto, one-hot model
    assert build_method({"name": "ig"}, BatchedPredictor(TokenMotifDetector(TripletTokenizer())), tss=249).baseline \
        == "zeros"  # auto, k-mer token model
    assert build_method({"name": "ig"}, BatchedPredictor(HyenaDNABackbone(CharTokenizer())), tss=249).baseline \
        == "expected"  # auto, single-nucleotide tokens
    with pytest.raises(ValueError, match="gradient_correction needs"):
        build_method({"name": "ig", "gradient_correction": True}, model, tss=249)


@pytest.mark.parametrize("name", ["ism", "ig", "lime", "shap", "anchor", "attention"])
def test_method_defaults_are_the_shipped_settings(name):
    """conf/xai/<name>.yaml (what explain.py runs) and the constructor's defaults (what every Python
    caller, test and benchmark gets) are one set of settings."""
    import inspect

    from omegaconf import OmegaConf

    from glmxai.xai.registry import get_method

    from conftest import CONF_DIR

    shipped = OmegaConf.to_container(OmegaConf.load(f"{CONF_DIR}/xai/{name}.yaml"))
    assert shipped.pop("name") == name
    parameters = inspect.signature(get_method(name).__init__).parameters
    assert set(shipped) == set(parameters) - {"self", "model", "tss"}
    for key, value in shipped.items():
        default = parameters[key].default
        assert default == value, f"{name}.{key}: yaml {value!r}, constructor {default!r}"
