"""SHAP values of table models and the adverse-action reasons read from them.

SHAP (Lundberg and Lee, "A Unified Approach to Interpreting Model Predictions", NeurIPS
2017) splits one prediction into a base value plus one contribution per feature, with
``base value + sum of contributions = model output``. finml explains the **log-odds of the
positive class** (for a credit run, of default), so contributions add up, and a positive
contribution raised the risk.

Explainers, from the ``shap`` library:

- gradient boosting: ``shap.TreeExplainer`` (exact Tree SHAP, path-dependent, no
  background needed);
- logistic regression: ``shap.LinearExplainer`` with an independent masker over the
  background;
- the Keras MLP, and gradient boosting with native categorical splits (which Tree SHAP
  does not read): ``shap.PermutationExplainer`` over the background (exactly additive by
  construction; model-agnostic, so slower: see :data:`MAX_EVALS`).

The explainers work on the columns the estimator sees (after imputation, scaling and
one-hot encoding); each raw column's contribution is the sum of its own columns (its
one-hot columns, and its missing-value indicator). The background is a summary of the
training split (:func:`fit_background`): k-means centroids repeated in proportion to their
cluster sizes, so no training applicant's row travels with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Rows of the background summary (centroids repeated by cluster share).
BACKGROUND_ROWS = 50
#: k-means clusters behind the background.
BACKGROUND_CLUSTERS = 10
#: Most training rows the background's k-means sees (a seeded sample above this).
BACKGROUND_FIT_ROWS = 5_000
#: Model evaluations per explained row for the permutation explainer (each evaluates the
#: model on every background row); at least ``2 * n_columns + 1`` is used.
MAX_EVALS = 500
#: Adverse-action reasons shown per applicant.
TOP_REASONS = 4
#: Smallest contribution (log-odds) that counts as a reason.
MIN_REASON = 0.01


@dataclass
class ShapValues:
    """SHAP values of some rows, per raw feature column.

    Attributes:
        values: float64 array (n_rows, n_features): each column's contribution to the
            log-odds of the positive class.
        base_value: the expected log-odds over the background (float).
        features: the raw feature columns, in the order of ``values``' columns.
        method: ``"tree"``, ``"linear"`` or ``"permutation"``.
    """

    values: np.ndarray
    base_value: float
    features: list[str]
    method: str

    def frame(self) -> pd.DataFrame:
        """The values as a DataFrame, one column per feature."""
        return pd.DataFrame(self.values, columns=self.features)


def output_groups(preprocessor, numeric, categorical) -> np.ndarray:
    """The raw feature column behind each column the estimator sees.

    Args:
        preprocessor: the fitted ColumnTransformer of
            :func:`finml.models.features.build_preprocessor`.
        numeric: numeric feature columns.
        categorical: categorical feature columns.

    Returns:
        int64 array of shape (n_features_out,): index into ``[*numeric, *categorical]``.

    Raises:
        ValueError: the preprocessor is not one finml builds (its output width differs).
    """
    features = [*numeric, *categorical]
    out: list[int] = []
    for name, pipe, cols in preprocessor.transformers_:
        if name == "num":
            imputer = pipe.named_steps["impute"]
            kept = [i for i, s in enumerate(imputer.statistics_) if not np.isnan(s)]
            out += [features.index(cols[i]) for i in kept]
            if imputer.indicator_ is not None:
                out += [features.index(cols[i]) for i in imputer.indicator_.features_]
        elif name == "cat" and "ordinal" in pipe.named_steps:  # one code column each
            out += [features.index(col) for col in cols]
        elif name == "cat":
            onehot = pipe.named_steps["onehot"]
            for col, cats in zip(cols, onehot.categories_, strict=True):
                out += [features.index(col)] * len(cats)
    width = len(preprocessor.get_feature_names_out())
    if len(out) != width:
        raise ValueError(f"Cannot map {width} preprocessed columns back to the raw columns.")
    return np.asarray(out, dtype=np.int64)


def fit_background(x_train: np.ndarray, seed: int, rows: int = BACKGROUND_ROWS) -> np.ndarray:
    """A summary of the training split for the explainers that need a background.

    k-means (``sklearn.cluster.KMeans``, :data:`BACKGROUND_CLUSTERS` clusters on at most
    :data:`BACKGROUND_FIT_ROWS` seeded training rows); each centroid is repeated in
    proportion to its cluster's share, ``rows`` rows in all.

    Args:
        x_train: preprocessed training rows, float array (n, n_features_out).
        seed: random seed of the sample and of k-means.
        rows: rows of the summary.

    Returns:
        float32 array (about ``rows``, n_features_out).
    """
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    x = np.asarray(x_train, dtype=np.float64)
    if len(x) > BACKGROUND_FIT_ROWS:
        x = x[np.sort(rng.choice(len(x), BACKGROUND_FIT_ROWS, replace=False))]
    k = min(BACKGROUND_CLUSTERS, len(np.unique(x, axis=0)))
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x)
    share = np.bincount(km.labels_, minlength=k) / len(x)
    counts = np.maximum(1, np.round(share * rows)).astype(int)
    return np.repeat(km.cluster_centers_, counts, axis=0).astype(np.float32)


def typical_background(model) -> np.ndarray:
    """One preprocessed row of typical training values (median, mode), for models saved
    without a background (bundles of earlier finml versions): float32 (1, n_features_out)."""
    profile = model.profile
    row = {c: [profile["numeric"][c]["median"]] for c in model.numeric}
    row |= {c: [profile["categorical"][c]["mode"]] for c in model.categorical}
    return model.transform(pd.DataFrame(row))


def log_odds(model, x: np.ndarray) -> np.ndarray:
    """Log-odds of the positive class of preprocessed rows: what SHAP values add up to.

    Args:
        model: a fitted two-class table model (:class:`finml.models.pipeline.FittedModel`).
        x: preprocessed rows, float array (n, n_features_out).

    Returns:
        float64 array (n,).
    """
    x = np.asarray(x, dtype=np.float32)
    if model.family == "sklearn":
        margin = np.asarray(model.estimator.decision_function(x), dtype=np.float64)
        return margin if model.positive == 1 else -margin
    p = model.predict_proba_transformed(x)[:, model.positive]
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def explainer_kind(model) -> str:
    """The explainer :func:`explain_rows` uses for ``model``: ``"tree"`` (gradient
    boosting), ``"linear"`` (logistic regression) or ``"permutation"`` (Keras, and boosting
    with native categorical splits)."""
    if model.family == "keras":
        return "permutation"
    if type(model.estimator).__name__.startswith("HistGradient"):
        # shap's Tree SHAP reads numeric thresholds only: native categorical splits
        # (bitsets) go through the model-agnostic explainer instead
        categorical = getattr(model.estimator, "is_categorical_", None)
        return "permutation" if categorical is not None and categorical.any() else "tree"
    return "linear"


def explain_rows(model, X: pd.DataFrame, seed: int = 0) -> ShapValues:
    """SHAP values of table rows, per raw feature column, in log-odds of the positive class.

    Args:
        model: a fitted two-class table model with ``background`` (or a typical row is used).
        X: the rows, with at least the model's feature columns, shape (n, k).
        seed: random seed of the permutation explainer.

    Returns:
        ShapValues with ``values`` of shape (n, n_features); for each row,
        ``base_value + values.sum()`` equals :func:`log_odds` of the row.

    Raises:
        DataError: feature columns missing from ``X``.
    """
    import shap

    x = model.transform(X)
    est = model.estimator
    groups = output_groups(model.preprocessor, model.numeric, model.categorical)
    features = [str(f) for f in model.feature_names_in_]
    background = model.background if model.background is not None else typical_background(model)
    background = np.asarray(background, dtype=np.float32)
    sign = 1.0 if model.positive == 1 else -1.0
    method = explainer_kind(model)
    if method == "tree":
        explainer = shap.TreeExplainer(est)
        raw = sign * np.asarray(explainer.shap_values(x), dtype=np.float64)
        base = sign * float(np.ravel(explainer.expected_value)[0])
    elif method == "linear":
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explanation = shap.LinearExplainer(est, masker)(x)
        raw = sign * np.asarray(explanation.values, dtype=np.float64)
        base = sign * float(np.ravel(explanation.base_values)[0])
    else:
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explainer = shap.PermutationExplainer(lambda z: log_odds(model, z), masker, seed=seed)
        evals = max(MAX_EVALS, 2 * x.shape[1] + 1)
        explanation = explainer(x, max_evals=evals, silent=True)
        raw = np.asarray(explanation.values, dtype=np.float64)
        base = float(np.ravel(explanation.base_values)[0])
    values = np.zeros((len(x), len(features)))
    np.add.at(values.T, groups, raw.T)
    return ShapValues(values, base, features, method)


def _label(feature: str) -> str:
    words = str(feature).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _value(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def adverse_reasons(
    shap_values: ShapValues,
    X: pd.DataFrame,
    top: int = TOP_REASONS,
    outcome: str = "the risk",
) -> list[list[str]]:
    """The adverse-action reasons of each row, in plain words: the features whose own
    values raised the log-odds of the positive class most, largest first.

    Args:
        shap_values: :func:`explain_rows` of the rows.
        X: the same rows (their raw values name the reason).
        top: most reasons per row.
        outcome: what a positive contribution raises, e.g. ``"the risk"``.

    Returns:
        One list per row of at most ``top`` texts, e.g. ``"Duration in month of 48 raised
        the risk"``; contributions below :data:`MIN_REASON` are not reasons.
    """
    numeric = set(X.select_dtypes("number").columns)
    out = []
    for i, row in enumerate(shap_values.values):
        reasons = []
        for j in np.argsort(-row, kind="stable")[:top]:
            if row[j] < MIN_REASON:
                break
            feature = shap_values.features[j]
            value = _value(X[feature].iloc[i])
            link = "of" if feature in numeric else "="
            reasons.append(f"{_label(feature)} {link} {value} raised {outcome}")
        out.append(reasons)
    return out


def summary_table(shap_values: ShapValues) -> pd.DataFrame:
    """Global importance from SHAP values: ``feature``, ``mean_abs`` (mean |contribution|,
    log-odds) and ``mean`` (signed), largest ``mean_abs`` first."""
    v = shap_values.values
    table = pd.DataFrame(
        {"feature": shap_values.features, "mean_abs": np.abs(v).mean(0), "mean": v.mean(0)}
    )
    return table.sort_values("mean_abs", ascending=False, kind="stable").reset_index(drop=True)
