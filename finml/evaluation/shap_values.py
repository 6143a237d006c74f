"""SHAP values of table models and the reasons read from them.

SHAP (Lundberg and Lee, "A Unified Approach to Interpreting Model Predictions", NeurIPS
2017) splits one prediction into a base value plus one contribution per feature, with
``base value + sum of contributions = model output``. What the output is depends on the
task (:attr:`ShapValues.output` says it in words):

- **binary** classification: the **log-odds of the positive class** (for a credit run, of
  default), so contributions add up, and a positive contribution raised the risk;
- **multi-class** (k > 2 classes): for each class c, the **centred log-probability**
  ``log p_c - mean_j log p_j``, equal to the model's softmax logit of c less the mean of
  the k logits (softmax logits are defined only up to a constant per row; centring picks
  the one that sums to 0 over the classes). It is the average log-odds of c against each
  other class, so the difference of two classes' values is their log-odds. Multinomial
  logistic regression and boosting (k trees per iteration) are additive in the logits, so
  the Linear and Tree explainers give the logits' SHAP values and these are centred (SHAP
  values are linear in the output); the softmax MLP is explained on the centred
  log-probability directly. Values have shape (n_rows, n_features, k);
- **regression**: the prediction **in the target's units** (base value + contributions =
  the predicted value). The estimator learns a standardised target ``z``; its linear and
  tree SHAP values are multiplied by the target's scale (the mean is added to the base
  value). A model fitted on ``log1p`` of the target is explained in **log1p units**
  (``base + contributions = log1p(prediction)``): the prediction ``expm1(t)`` is not
  additive, and explaining ``expm1`` with the model-agnostic explainer would trade the exact
  Tree / Linear SHAP values for slow, sampled ones of a product of feature effects. In log
  units each contribution is an exact factor: ``1 + prediction`` is
  ``(1 + base prediction) * prod_j exp(contribution_j)``, and the reasons say it as a
  percentage (:func:`regression_reasons`).

Explainers, from the ``shap`` library, chosen from the estimator's class
(:func:`explainer_kind`):

- gradient boosting (``HistGradientBoosting*``): ``shap.TreeExplainer`` (exact Tree SHAP,
  path-dependent, no background needed), native categorical splits included (handed to
  shap's own categorical test, :func:`_tree_shap`) up to :data:`TREE_SHAP_CATEGORIES`
  categories per column;
- linear models (scikit-learn's ``LinearClassifierMixin`` and ``LinearModel``: logistic
  regression, ridge): ``shap.LinearExplainer`` with an independent masker over the
  background;
- anything else, i.e. the Keras MLP, and gradient boosting with a natively split column of
  more categories: ``shap.PermutationExplainer`` over the background
  (exactly additive by construction; model-agnostic, so slower: see :data:`MAX_EVALS`).

The explainers work on the columns the estimator sees (after imputation, scaling and
one-hot encoding); each raw column's contribution is the sum of its own columns (its
one-hot columns, and its missing-value indicator). The background is a summary of the
training split (:func:`fit_background`): k-means centroids repeated in proportion to their
cluster sizes, so no training applicant's row travels with the model. A model without one
(bundles of earlier versions) is explained against one typical row
(:func:`typical_background`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

#: What a model's SHAP values explain (:attr:`ShapValues.task`): the log-odds of a
#: two-class model, the centred log-probability of each class, a regression's prediction.
BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
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
#: Smallest contribution (log-odds, or log units) that counts as a reason.
MIN_REASON = 0.01
#: Smallest share of a row's total absolute contribution that counts as a reason, for a
#: regression explained in the target's units (which have no natural threshold).
MIN_REASON_SHARE = 0.01

#: Smallest probability whose log is taken (float32's smallest normal number).
_TINY = float(np.finfo(np.float32).tiny)


@dataclass
class ShapValues:
    """SHAP values of some rows, per raw feature column.

    Attributes:
        values: float64 array (n_rows, n_features): each column's contribution to the
            output; for a multi-class model (n_rows, n_features, k), the last axis the
            classes.
        base_value: the expected output over the background: a float, or for a
            multi-class model a float64 array (k,).
        features: the raw feature columns, in the order of ``values``' columns.
        method: ``"tree"``, ``"linear"`` or ``"permutation"``.
        output: what ``base_value + values.sum(axis=1)`` is, in words, e.g. ``"log-odds
            of 'bad'"``, ``"the predicted credit_amount"``.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        classes: the class names along the last axis of ``values`` (multi-class only).
        target: the predicted target in words, e.g. ``"credit_amount"`` (regression only).
        log_target: the output is ``log1p`` of the prediction (regression only).
    """

    values: np.ndarray
    base_value: float | np.ndarray
    features: list[str]
    method: str
    output: str = "log-odds of the positive class"
    task: str = "binary"  # BINARY
    classes: tuple[str, ...] = ()
    target: str = ""
    log_target: bool = False

    @property
    def is_multiclass(self) -> bool:
        """True for per-class values of shape (n_rows, n_features, k)."""
        return np.ndim(self.values) == 3

    def totals(self) -> np.ndarray:
        """``base_value + sum of contributions`` of each row, i.e. the explained output:
        float64 (n_rows,), or (n_rows, k) for a multi-class model."""
        return np.asarray(self.base_value, dtype=np.float64) + np.asarray(self.values).sum(1)

    def predicted_class(self) -> np.ndarray:
        """The most probable class index of each row (multi-class): int64 (n_rows,).

        Raises:
            ValueError: the values are not per class.
        """
        if not self.is_multiclass:
            raise ValueError("Only multi-class SHAP values have a predicted class.")
        return self.totals().argmax(axis=1).astype(np.int64)

    def for_class(self, class_index: int) -> ShapValues:
        """The values of one class of a multi-class model, as two-dimensional ShapValues
        (values (n_rows, n_features), a float base value; ``classes`` holds that class).

        Raises:
            ValueError: the values are not per class.
        """
        if not self.is_multiclass:
            raise ValueError("Only multi-class SHAP values have classes to pick from.")
        name = self.classes[class_index] if self.classes else str(class_index)
        return replace(
            self,
            values=np.asarray(self.values)[:, :, class_index],
            base_value=float(np.asarray(self.base_value)[class_index]),
            output=f"centred log-probability of '{name}'",
            classes=(name,),
        )

    def about(self) -> dict:
        """What the values are, JSON-ready: ``base_value`` (a float, or a list of k for a
        multi-class model), ``method``, ``output``, ``task``, ``classes``, ``target`` and
        ``log_target``; with :meth:`frame` (per class) enough to rebuild them."""
        base = np.asarray(self.base_value, dtype=np.float64)
        return {
            "base_value": base.tolist() if base.ndim else float(base),
            "method": self.method,
            "output": self.output,
            "task": self.task,
            "classes": list(self.classes),
            "target": self.target,
            "log_target": bool(self.log_target),
        }

    def frame(self, class_index: int | None = None) -> pd.DataFrame:
        """The values as a DataFrame, one column per feature (of class ``class_index`` for
        a multi-class model).

        Raises:
            ValueError: multi-class values without ``class_index``.
        """
        if self.is_multiclass:
            if class_index is None:
                raise ValueError("Multi-class SHAP values: pass the class_index to tabulate.")
            return self.for_class(class_index).frame()
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
        if name == "num" and not hasattr(pipe, "named_steps"):  # passed through (native)
            out += [features.index(col) for col in cols]
        elif name == "num":
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
    :data:`BACKGROUND_FIT_ROWS` seeded training rows, a missing value as its column's
    median); each centroid is repeated in proportion to its cluster's share, ``rows`` rows
    in all.

    Args:
        x_train: preprocessed training rows, float array (n, n_features_out).
        seed: random seed of the sample and of k-means.
        rows: rows of the summary.

    Returns:
        float32 array (about ``rows``, n_features_out).
    """
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    x = x_train
    if len(x) > BACKGROUND_FIT_ROWS:  # the sample first: a float64 copy of 600,000 rows took 0.3 s
        x = x[np.sort(rng.choice(len(x), BACKGROUND_FIT_ROWS, replace=False))]
    x = np.asarray(x, dtype=np.float64)
    missing = ~np.isfinite(x)  # float32 overflows beyond 3.4e38, too
    if missing.any():  # numbers as they are (native boosting): each column's median there
        x = np.where(missing, np.nan, x)
        with warnings.catch_warnings():  # an all-missing column: its median is NaN, then 0
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nan_to_num(np.nanmedian(x, axis=0))
        x = np.where(missing, medians, x)
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


def model_task(model) -> str:
    """:data:`REGRESSION` (a model with a target transform,
    :class:`~finml.models.pipeline.FittedRegressor`), :data:`MULTICLASS` (a classifier of
    more than two classes) or :data:`BINARY`."""
    if hasattr(model, "decode_target"):
        return REGRESSION
    return MULTICLASS if len(model.class_names) > 2 else BINARY


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


def class_log_probabilities(model, x: np.ndarray) -> np.ndarray:
    """Centred log-probability of each class of preprocessed rows, ``log p_c - mean_j log
    p_j``: what a multi-class model's SHAP values add up to (the softmax logits less their
    row mean; the same for every choice of logits). A scikit-learn classifier's
    ``decision_function`` is read as its softmax logits, as finml's multinomial logistic
    regression and boosting are (a one-vs-rest model's would not give its probabilities).

    Args:
        model: a fitted multi-class table model.
        x: preprocessed rows, float array (n, n_features_out).

    Returns:
        float64 array (n, k).
    """
    x = np.asarray(x, dtype=np.float32)
    if hasattr(model.estimator, "decision_function"):  # the logits themselves, no rounding
        logits = np.asarray(model.estimator.decision_function(x), dtype=np.float64)
    else:
        logits = np.log(np.maximum(model.predict_proba_transformed(x), _TINY))
    return logits - logits.mean(axis=1, keepdims=True)


def regression_output(model, x: np.ndarray) -> np.ndarray:
    """What a regression model's SHAP values add up to for preprocessed rows: the
    prediction in the target's units, or ``log1p`` of it for a model fitted on log1p of
    the target.

    Args:
        model: a fitted :class:`~finml.models.pipeline.FittedRegressor`.
        x: preprocessed rows, float array (n, n_features_out).

    Returns:
        float64 array (n,).
    """
    pred = model.predict_transformed(np.asarray(x, dtype=np.float32))
    return np.log1p(pred) if model.log_target else pred


def explained_output(model, x: np.ndarray) -> np.ndarray:
    """What :func:`explain_rows` of ``model`` adds up to, for preprocessed rows:
    :func:`log_odds` (binary, (n,)), :func:`class_log_probabilities` (multi-class, (n, k))
    or :func:`regression_output` (regression, (n,))."""
    task = model_task(model)
    if task == REGRESSION:
        return regression_output(model, x)
    if task == MULTICLASS:
        return class_log_probabilities(model, x)
    return log_odds(model, x)


#: Most categories of a natively split column that Tree SHAP reads exactly. shap's C
#: extension tests a category against a split's left set as one bit of the split's
#: threshold (``category_in_threshold`` in shap's ``cext/tree_shap.h``, which reads the
#: threshold as a 32-bit float: integers are exact up to 2**24), so codes 0..23 fit.
TREE_SHAP_CATEGORIES = 24


def native_category_counts(est) -> list[int]:
    """How many categories each natively split column of a fitted
    ``HistGradientBoosting*`` has (its internal ``OrdinalEncoder``'s); [] without them."""
    inner = getattr(est, "_preprocessor", None)
    if inner is None:
        return []
    return [len(c) for c in inner.named_transformers_["encoder"].categories_]


def _tree_shap(est, x: np.ndarray):
    """Exact Tree SHAP (path-dependent) of a fitted ``HistGradientBoosting*`` on the
    preprocessed rows ``x`` (float, shape (n, p)): (raw values, float64 (n, p), or
    (n, p, k) for k > 2 classes, in the trees' raw output; expected value(s)).

    With native categorical splits, shap parses the trees' nodes but reads each split as
    ``value <= threshold``, which is meaningless for a categorical node (it goes left when
    the category is in the node's left set). Each such node is therefore handed to shap's
    own categorical test: its left set (scikit-learn's ``raw_left_cat_bitsets``) becomes a
    bit mask threshold of type 1, and the rows go in as scikit-learn's predictors see them
    (its internal encoder's codes, unknown categories NaN = missing), a category c as
    c + 1 (shap tests bit ``category - 1``). The values of the encoder's column order
    (categorical columns first) are put back into ``x``'s order. Valid up to
    :data:`TREE_SHAP_CATEGORIES` categories per column (:func:`explainer_kind`)."""
    import shap

    explainer = shap.TreeExplainer(est)
    inner = getattr(est, "_preprocessor", None)
    if inner is None:
        return np.asarray(explainer.shap_values(x), dtype=np.float64), explainer.expected_value
    ensemble, tree = explainer.model, 0
    for stage in est._predictors:
        for predictor in stage:  # shap's tree order: per iteration, one tree per output
            nodes = predictor.nodes
            for node in np.flatnonzero(nodes["is_categorical"] & ~nodes["is_leaf"].astype(bool)):
                bits = int(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]][0])
                ensemble.thresholds[tree, node] = float(bits)
                ensemble.threshold_types[tree, node] = 1
            tree += 1
    seen = np.asarray(inner.transform(x), dtype=np.float64)
    n_cat = int(est.is_categorical_.sum())
    seen[:, :n_cat] += 1.0  # NaN (missing, unknown) stays NaN
    raw = np.asarray(explainer.shap_values(seen), dtype=np.float64)
    order = np.concatenate(
        [np.flatnonzero(est.is_categorical_), np.flatnonzero(~est.is_categorical_)]
    )
    out = np.empty_like(raw)
    out[:, order] = raw  # axis 1: the encoder's columns, back to x's
    return out, explainer.expected_value


def explainer_kind(model) -> str:
    """The explainer :func:`explain_rows` uses for ``model``, from its estimator's class:
    ``"tree"`` (scikit-learn's histogram gradient boosting), ``"linear"`` (scikit-learn's
    linear classifiers and regressors: logistic regression, ridge) or ``"permutation"``
    (anything else: Keras networks; and boosting with a natively split column of more than
    :data:`TREE_SHAP_CATEGORIES` categories)."""
    # imported here: scikit-learn's ensembles cost 0.4 s to import, pages import this module
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel

    est = model.estimator
    if isinstance(est, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        # native categorical splits: Tree SHAP while shap's category masks can hold them
        return (
            "tree"
            if max(native_category_counts(est), default=0) <= TREE_SHAP_CATEGORIES
            else "permutation"
        )
    # a linear decision function (classifiers: the logits) or prediction (regressors)
    if isinstance(est, LinearClassifierMixin | LinearModel):
        return "linear"
    return "permutation"


def _target_name(model) -> str:
    return str((model.meta or {}).get("target") or "target")


def explain_rows(model, X: pd.DataFrame, seed: int = 0) -> ShapValues:
    """SHAP values of table rows, per raw feature column.

    Args:
        model: a fitted table model (binary or multi-class
            :class:`~finml.models.pipeline.FittedModel`, or a
            :class:`~finml.models.pipeline.FittedRegressor`) with ``background`` (or a
            typical row is used).
        X: the rows, with at least the model's feature columns, shape (n, k).
        seed: random seed of the permutation explainer.

    Returns:
        ShapValues, for each row ``base_value + values.sum(axis=1)`` equal to
        :func:`explained_output` of the row:

        - binary: ``values`` (n, n_features) in log-odds of the positive class
          (:func:`log_odds`);
        - multi-class: ``values`` (n, n_features, k) and ``base_value`` (k,) in centred
          log-probabilities (:func:`class_log_probabilities`), ``classes`` the names;
        - regression: ``values`` (n, n_features) in the target's units (``log1p`` units
          for a model fitted on log1p of the target, see the module).

    Raises:
        DataError: feature columns missing from ``X``.
    """
    task = model_task(model)
    if task == REGRESSION:
        return _explain_regression(model, X, seed)
    if task == MULTICLASS:
        return _explain_multiclass(model, X, seed)
    return _explain_binary(model, X, seed)


def _parts(model, X: pd.DataFrame):
    """The preprocessed rows, column groups, raw feature names and background."""
    x = model.transform(X)
    groups = output_groups(model.preprocessor, model.numeric, model.categorical)
    features = [str(f) for f in model.feature_names_in_]
    background = model.background if model.background is not None else typical_background(model)
    return x, groups, features, np.asarray(background, dtype=np.float32)


def _masker(background: np.ndarray):
    import shap

    return shap.maskers.Independent(background, max_samples=len(background))


def _permutation(f, x: np.ndarray, background: np.ndarray, seed: int):
    """Permutation SHAP values of ``f`` over the background: (values (n, p[, k]), base
    values (n[, k]))."""
    import shap

    explainer = shap.PermutationExplainer(f, _masker(background), seed=seed)
    evals = max(MAX_EVALS, 2 * x.shape[1] + 1)
    explanation = explainer(x, max_evals=evals, silent=True)
    return (
        np.asarray(explanation.values, dtype=np.float64),
        np.asarray(explanation.base_values, dtype=np.float64),
    )


def _by_feature(raw: np.ndarray, groups: np.ndarray, n_features: int) -> np.ndarray:
    """Sum the preprocessed columns' values (axis 1 of ``raw``) into their raw column's."""
    values = np.zeros((raw.shape[0], n_features, *raw.shape[2:]))
    np.add.at(values, (slice(None), groups), raw)
    return values


def _explain_binary(model, X: pd.DataFrame, seed: int) -> ShapValues:
    import shap

    x, groups, features, background = _parts(model, X)
    est = model.estimator
    sign = 1.0 if model.positive == 1 else -1.0
    method = explainer_kind(model)
    if method == "tree":
        raw, expected = _tree_shap(est, x)
        raw = sign * raw
        base = sign * float(np.ravel(expected)[0])
    elif method == "linear":
        explanation = shap.LinearExplainer(est, _masker(background))(x)
        raw = sign * np.asarray(explanation.values, dtype=np.float64)
        base = sign * float(np.ravel(explanation.base_values)[0])
    else:
        raw, bases = _permutation(lambda z: log_odds(model, z), x, background, seed)
        base = float(np.ravel(bases)[0])
    name = model.class_names[model.positive]
    output = f"log-odds of '{name}'"
    return ShapValues(_by_feature(raw, groups, len(features)), base, features, method, output)


def _explain_multiclass(model, X: pd.DataFrame, seed: int) -> ShapValues:
    import shap

    x, groups, features, background = _parts(model, X)
    est = model.estimator
    k = len(model.class_names)
    method = explainer_kind(model)
    if method == "tree":  # k trees per iteration: one raw score (logit) per class
        raw, expected = _tree_shap(est, x)
        raw = raw.reshape(len(x), -1, k)
        base = np.asarray(expected, dtype=np.float64).reshape(k)
    elif method == "linear":  # multinomial: one row of coefficients (logit) per class
        explanation = shap.LinearExplainer(est, _masker(background))(x)
        raw = np.asarray(explanation.values, dtype=np.float64).reshape(len(x), -1, k)
        base = np.asarray(explanation.base_values, dtype=np.float64).reshape(-1, k)[0]
    else:  # already centred
        raw, bases = _permutation(lambda z: class_log_probabilities(model, z), x, background, seed)
        base = bases.reshape(-1, k)[0]
    # SHAP values are linear in the output: centring the logits centres their values
    raw = raw - raw.mean(axis=2, keepdims=True)
    base = base - base.mean()
    return ShapValues(
        _by_feature(raw, groups, len(features)),
        base,
        features,
        method,
        "centred log-probability of each class",
        MULTICLASS,
        tuple(str(c) for c in model.class_names),
    )


def _explain_regression(model, X: pd.DataFrame, seed: int) -> ShapValues:
    import shap

    x, groups, features, background = _parts(model, X)
    est = model.estimator
    scale, mean = float(model.target_scale), float(model.target_mean)
    method = explainer_kind(model)
    if method == "tree":  # in the standardised target z = (t - mean) / scale
        raw, expected = _tree_shap(est, x)
        raw = scale * raw
        base = scale * float(np.ravel(expected)[0]) + mean
    elif method == "linear":
        explanation = shap.LinearExplainer(est, _masker(background))(x)
        raw = scale * np.asarray(explanation.values, dtype=np.float64)
        base = scale * float(np.ravel(explanation.base_values)[0]) + mean
    else:  # the output t itself
        raw, bases = _permutation(lambda z: regression_output(model, z), x, background, seed)
        base = float(np.ravel(bases)[0])
    target = _target_name(model)
    output = f"log1p of the predicted {target}" if model.log_target else f"the predicted {target}"
    return ShapValues(
        _by_feature(raw, groups, len(features)),
        base,
        features,
        method,
        output,
        REGRESSION,
        target=target,
        log_target=bool(model.log_target),
    )


def _label(feature: str) -> str:
    words = str(feature).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _value(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def _amount(value: float) -> str:
    """A contribution in the target's units, in words: ``1,234``, ``12.3``, ``0.0123``."""
    value = abs(float(value))
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _percent(log_change: float) -> str:
    """A contribution in log units as the change of ``1 + prediction``: ``26%``."""
    return f"{abs(np.expm1(float(log_change))):.0%}"


def _names(shap_values: ShapValues, X: pd.DataFrame):
    """``(label, link, value)`` of feature ``j`` on row ``i``: ``"Duration in month"``,
    ``"of"`` (numeric) or ``"="``, and the row's raw value in words."""
    numeric = set(X.select_dtypes("number").columns)

    def name(i: int, j: int) -> str:
        feature = shap_values.features[j]
        link = "of" if feature in numeric else "="
        return f"{_label(feature)} {link} {_value(X[feature].iloc[i])}"

    return name


def adverse_reasons(
    shap_values: ShapValues,
    X: pd.DataFrame,
    top: int = TOP_REASONS,
    outcome: str = "the risk",
) -> list[list[str]]:
    """The adverse-action reasons of each row, in plain words: the features whose own
    values raised the log-odds of the positive class most, largest first (binary models;
    see :func:`class_reasons` and :func:`regression_reasons` for the others).

    Args:
        shap_values: :func:`explain_rows` of the rows.
        X: the same rows (their raw values name the reason).
        top: most reasons per row.
        outcome: what a positive contribution raises, e.g. ``"the risk"``.

    Returns:
        One list per row of at most ``top`` texts, e.g. ``"Duration in month of 48 raised
        the risk"``; contributions below :data:`MIN_REASON` are not reasons.

    Raises:
        ValueError: multi-class values (one reason list per class: :func:`class_reasons`).
    """
    if shap_values.is_multiclass:
        raise ValueError("Multi-class SHAP values: use class_reasons.")
    name = _names(shap_values, X)
    rows = np.asarray(shap_values.values)
    return [
        _raisers(row, top, lambda j, i=i: f"{name(i, j)} raised {outcome}")
        for i, row in enumerate(rows)
    ]


def class_reasons(
    shap_values: ShapValues,
    X: pd.DataFrame,
    class_index: int | np.ndarray | None = None,
    top: int = TOP_REASONS,
) -> list[list[str]]:
    """The reasons for each row's class in plain words (multi-class models): the features
    whose own values raised that class's centred log-probability most, largest first.
    Such a feature favoured the class over the others on average (the centred
    log-probability of c is the mean log-odds of c against each other class).

    Args:
        shap_values: multi-class :func:`explain_rows` of the rows.
        X: the same rows (their raw values name the reason).
        class_index: the class to give reasons for: ``None`` for each row's predicted
            class (:meth:`ShapValues.predicted_class`), one index for every row, or an int
            array (n_rows,).
        top: most reasons per row.

    Returns:
        One list per row of at most ``top`` texts, e.g. ``"Property = unknown / no
        property favoured 'for free'"``; contributions below :data:`MIN_REASON` are not
        reasons.

    Raises:
        ValueError: the values are not per class.
    """
    if not shap_values.is_multiclass:
        raise ValueError("class_reasons needs multi-class SHAP values.")
    n, _, k = np.shape(shap_values.values)
    if class_index is None:
        chosen = shap_values.predicted_class()
    else:
        chosen = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (n,))
    classes = shap_values.classes or tuple(str(c) for c in range(k))
    name = _names(shap_values, X)
    values = np.asarray(shap_values.values)
    return [
        _raisers(
            values[i, :, chosen[i]],
            top,
            lambda j, i=i: f"{name(i, j)} favoured '{classes[chosen[i]]}'",
        )
        for i in range(n)
    ]


def _raisers(row: np.ndarray, top: int, words) -> list[str]:
    """``words(j)`` of the (at most ``top``) features ``j`` that raised ``row`` most, by at
    least :data:`MIN_REASON`, largest first."""
    out = []
    for j in np.argsort(-row, kind="stable")[:top]:
        if row[j] < MIN_REASON:
            break
        out.append(words(j))
    return out


def regression_reasons(
    shap_values: ShapValues, X: pd.DataFrame, top: int = TOP_REASONS
) -> list[list[str]]:
    """The reasons for each row's prediction in plain words (regression models): the
    features whose own values moved the prediction most, up or down, largest first.

    In the target's units a reason reads ``"Duration in month of 48 raised the predicted
    credit_amount by 1,234"``; contributions below :data:`MIN_REASON_SHARE` of the row's
    total absolute contribution are not reasons. For a model explained in log1p units
    (``log_target``) a contribution ``c`` multiplies ``1 + prediction`` by ``exp(c)``:
    ``"... raised the predicted credit_amount by 26%"``; below :data:`MIN_REASON` (about
    1%) is not a reason.

    Args:
        shap_values: regression :func:`explain_rows` of the rows.
        X: the same rows (their raw values name the reason).
        top: most reasons per row.

    Returns:
        One list per row of at most ``top`` texts.

    Raises:
        ValueError: multi-class values.
    """
    if shap_values.is_multiclass:
        raise ValueError("Multi-class SHAP values: use class_reasons.")
    what = f"the predicted {shap_values.target}" if shap_values.target else "the prediction"
    name = _names(shap_values, X)
    out = []
    for i, row in enumerate(np.asarray(shap_values.values, dtype=np.float64)):
        least = MIN_REASON if shap_values.log_target else MIN_REASON_SHARE * np.abs(row).sum()
        reasons = []
        for j in np.argsort(-np.abs(row), kind="stable")[:top]:
            if abs(row[j]) < least or row[j] == 0:
                break
            verb = "raised" if row[j] > 0 else "lowered"
            size = _percent(row[j]) if shap_values.log_target else _amount(row[j])
            reasons.append(f"{name(i, j)} {verb} {what} by {size}")
        out.append(reasons)
    return out


def row_reasons(
    shap_values: ShapValues, X: pd.DataFrame, top: int = TOP_REASONS, outcome: str = "the risk"
) -> list[list[str]]:
    """The reasons of each row for its task, as Predict shows them: :func:`adverse_reasons`
    (binary, with ``outcome``), :func:`class_reasons` of the predicted class (multi-class)
    or :func:`regression_reasons` (regression)."""
    if shap_values.is_multiclass:
        return class_reasons(shap_values, X, top=top)
    if shap_values.task == REGRESSION:
        return regression_reasons(shap_values, X, top=top)
    return adverse_reasons(shap_values, X, top=top, outcome=outcome)


def summary_table(shap_values: ShapValues, class_index: int | None = None) -> pd.DataFrame:
    """Global importance from SHAP values: ``feature``, ``mean_abs`` (mean |contribution|,
    in the units of :attr:`ShapValues.output`) and ``mean`` (signed), largest ``mean_abs``
    first.

    For multi-class values, ``class_index`` picks one class's table; without it the table
    is over all classes: ``mean_abs`` is the mean over rows of the summed |contribution|
    of the classes (the height of shap's stacked bar), followed by one ``mean_abs <class>``
    column per class (no signed mean: centred values sum to 0 over the classes).
    """
    if shap_values.is_multiclass and class_index is not None:
        return summary_table(shap_values.for_class(class_index))
    v = np.asarray(shap_values.values)
    if shap_values.is_multiclass:
        table = pd.DataFrame(
            {"feature": shap_values.features, "mean_abs": np.abs(v).sum(2).mean(0)}
        )
        classes = shap_values.classes or tuple(str(c) for c in range(v.shape[2]))
        for c, name in enumerate(classes):
            table[f"mean_abs {name}"] = np.abs(v[:, :, c]).mean(0)
    else:
        table = pd.DataFrame(
            {"feature": shap_values.features, "mean_abs": np.abs(v).mean(0), "mean": v.mean(0)}
        )
    return table.sort_values("mean_abs", ascending=False, kind="stable").reset_index(drop=True)
