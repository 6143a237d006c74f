"""Feature preparation and the ColumnTransformer of table models, fitted on the training
split only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.errors import DataError

#: Column kinds that become model features; IDs, dates and constants never do.
FEATURE_KINDS = ("numeric", "categorical")


def prepare_features(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str], *, arrow_text: bool = False
) -> pd.DataFrame:
    """Select the feature columns and give them the types the preprocessor expects.

    Numeric columns become float64 (text that is not a number, and infinite values such as
    ``1e999``, become missing); categorical columns become object columns of ``str`` (missing
    as NaN, the text ``"nan"`` too), or with ``arrow_text`` stay text held by Arrow where
    they are (pandas' ``str``: no Python object per value, for
    :class:`~finml.models.category_codes.CategoryCodes`, which hashes it in C).
    Used identically at training and scoring.

    Args:
        frame: the table, shape (n, k).
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        arrow_text: keep Arrow-backed text columns as they are (see :func:`codes_text`).

    Returns:
        DataFrame of shape (n, len(numeric) + len(categorical)).

    Raises:
        DataError: if a feature column is missing from ``frame``.
    """
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise DataError(f"The data lacks feature column(s) {', '.join(map(repr, missing))}.")
    out = pd.DataFrame(index=frame.index)
    for c in numeric:
        values = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        out[c] = values.where(np.isfinite(values), np.nan)
    for c in categorical:
        s = frame[c]
        if arrow_text and _arrow_text(s):  # the text "nan" is missing too, as below
            text_nan = s == "nan"
            out[c] = s.mask(text_nan) if text_nan.any() else s
            continue
        if isinstance(s.dtype, pd.StringDtype):  # text already: one conversion, no copy as str
            values = s.to_numpy(dtype=object, na_value=np.nan)
        elif s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "string":
            values = s.where(s.notna(), np.nan).to_numpy(dtype=object)  # keep the strings
        else:
            values = s.astype(str).where(s.notna(), np.nan).to_numpy(dtype=object)
        # the text "nan" is missing too, as pandas' and pyarrow's CSV readers read it (from
        # Excel or Parquet it could come as text, and a one-hot column of each would have
        # the same name, "<column>_nan"); 18 ms per million values
        text_nan = values == "nan"
        if text_nan.any():
            values = values.copy()  # pandas may hand out a read-only view
            values[text_nan] = np.nan
        # object, said explicitly: pandas 3 makes an array of str a str column again, which
        # scikit-learn's encoders convert back on every call (one-hot 2.5 to 3 times slower
        # on an upload's 200k rows)
        out[c] = pd.Series(values, index=frame.index, dtype=object)
    return out


def _arrow_text(column: pd.Series) -> bool:
    """Whether ``column`` is text held by Arrow with NaN as its missing value (pandas'
    ``str``: an upload's, and a staged table's)."""
    dtype = column.dtype
    return (
        isinstance(dtype, pd.StringDtype)
        and dtype.storage == "pyarrow"
        and dtype.na_value is not pd.NA
    )


def codes_text(preprocessor) -> bool:
    """Whether a preprocessor codes its categorical columns with
    :class:`~finml.models.category_codes.CategoryCodes` (native categories): its input's
    text is best left to Arrow (``prepare_features(..., arrow_text=True)``)."""
    transformers = getattr(preprocessor, "transformers", [])
    return any(
        name == "cat"
        and type(step[-1] if hasattr(step, "steps") else step).__name__ == "CategoryCodes"
        for name, step, _ in transformers
    )


#: Most categories a natively split categorical column keeps (gradient boosting bins each
#: category; rarer ones are grouped into one "infrequent" category).
MAX_NATIVE_CATEGORIES = 250


def build_preprocessor(numeric: list[str], categorical: list[str], categories: str = "one-hot"):
    """Build an unfitted preprocessor: impute + scale numeric (native: as they are), encode
    categorical.

    Numeric: median imputation with a missing-indicator, then standard scaling; or with
    ``categories="native"`` (gradient boosting, which bins each column by its quantiles and
    learns where a missing value goes) the values as they are, missing as NaN, as
    LightGBM and XGBoost take them (the median imputer's fit took 0.8 s at 600,000 rows).
    Categorical, with no imputer (its object pass over every value took 6 of 9 s at 600,000
    training rows; the encoders code a missing value themselves): either one-hot encoding,
    a missing value a category of its own and categories unseen in training all zeros, or
    (``categories="native"``, for gradient boosting's own categorical splits) one integer
    code per category (:class:`~finml.models.category_codes.CategoryCodes`), categorical
    columns first, a missing value a category of its own and unseen categories -1
    (boosting treats them as missing), at most :data:`MAX_NATIVE_CATEGORIES` categories
    per column. Output is a dense float array.

    Args:
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        categories: ``"one-hot"``, ``"native"`` or ``"raw"`` (the values as they are, for
            a scorecard: :func:`_raw_columns`).

    Returns:
        sklearn.compose.ColumnTransformer: to be fitted on the training split only.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if categories == "raw":  # a scorecard bins the values themselves
        return _raw_columns(numeric, categorical)
    transformers = []
    if numeric and categories == "native":  # boosting bins them and routes missing values
        transformers.append(("num", "passthrough", list(numeric)))
    elif numeric:
        num = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("scale", StandardScaler()),
            ]
        )
        transformers.append(("num", num, list(numeric)))
    if categorical and categories == "native":
        from finml.models.category_codes import CategoryCodes

        # scikit-learn's OrdinalEncoder's codes, hashed by pandas in C (13 columns of
        # 600,000 rows coded in 0.44 s as Python objects instead of 1.37 s)
        codes = CategoryCodes(max_categories=MAX_NATIVE_CATEGORIES)
        # the encoder codes a missing value itself (one more category, as the imputer's
        # "(missing)" was)
        transformers.insert(0, ("cat", Pipeline([("ordinal", codes)]), list(categorical)))
    elif categorical:  # no imputer either: the encoder gives a missing value its own column
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("cat", Pipeline([("onehot", onehot)]), list(categorical)))
    if not transformers:
        raise DataError("No feature columns are selected. Choose at least one feature.")
    return ColumnTransformer(transformers, sparse_threshold=0.0, verbose_feature_names_out=False)


def _raw_columns(numeric: list[str], categorical: list[str]):
    """The columns as they are, for a model that bins them itself (a scorecard): numeric
    columns passed through (missing stays NaN), then one integer code per category
    (``OrdinalEncoder``: unseen categories -1, missing stays NaN)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    transformers = []
    if numeric:
        transformers.append(("num", "passthrough", list(numeric)))
    if categorical:
        codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        transformers.append(("cat", codes, list(categorical)))
    if not transformers:
        raise DataError("No feature columns are selected. Choose at least one feature.")
    return ColumnTransformer(transformers, sparse_threshold=0.0, verbose_feature_names_out=False)


def category_lists(pre, categorical) -> dict[str, list[str]]:
    """The categories of each categorical column in the order a fitted preprocessor codes
    them (its ``"cat"`` encoder's ``categories_``, as text; a scorecard's category code is
    the position in this list).

    Args:
        pre: a fitted preprocessor of :func:`build_preprocessor`.
        categorical: its categorical columns, in order.

    Returns:
        Column name -> category names; empty when there are no categorical columns.
    """
    if not len(categorical):
        return {}
    encoder = pre.named_transformers_["cat"]
    encoder = encoder[-1] if hasattr(encoder, "steps") else encoder
    return {
        str(col): [str(v) for v in cats]
        for col, cats in zip(categorical, encoder.categories_, strict=True)
    }


def encoding_of(model: str, params: dict) -> str:
    """How model ``model`` sees categorical columns: its registry entry's fixed encoding
    (a scorecard's ``"raw"``), else its ``categories`` hyperparameter, else one-hot."""
    from finml.models.registry import get_model

    return get_model(model).encoding or params.get("categories", "one-hot")


def fit_preprocessing(
    X, numeric, categorical, params: dict, train_rows, val_rows=None, *, model=""
):
    """Fit a preprocessor (:func:`build_preprocessor`, the model's encoding,
    :func:`encoding_of`) on the training rows only and apply it to the training and
    validation rows.

    Args:
        X: prepared features (:func:`prepare_features`), shape (n, k).
        numeric, categorical: the feature columns.
        params: the model's hyperparameters (``categories``: ``"one-hot"`` or ``"native"``).
        train_rows: int positions fitted on.
        val_rows: int positions transformed, or ``None``.
        model: the registry model (its fixed encoding wins over ``params``).

    Returns:
        (the fitted ColumnTransformer, float32 training matrix, float32 validation matrix or
        ``None``).
    """
    categories = encoding_of(model, params) if model else params.get("categories", "one-hot")
    pre = build_preprocessor(list(numeric), list(categorical), categories)
    x_train = pre.fit_transform(X.iloc[train_rows]).astype(np.float32)
    x_val = None if val_rows is None else pre.transform(X.iloc[val_rows]).astype(np.float32)
    if categories == "native" and len(x_train):
        # a number missing on every training row (a field added late, an out-of-time
        # split): scikit-learn's boosting cannot bin it, and a constant is never split on
        x_train[:, np.isnan(x_train).all(axis=0)] = 0.0
    return pre, x_train, x_val
