"""finml: entry point. Page config, navigation, and the one error boundary of every page."""

import streamlit as st

from finml.errors import FinmlError
from pages.common import gate, page_icon, quiet_style, show_error, show_unexpected

# The icon is an image made here: a :material/...: page icon makes browsers fetch it from
# fonts.gstatic.com, which tells an outside server about every visit (and fails offline).
st.set_page_config(page_title="finml studio", page_icon=page_icon(), layout="wide")
quiet_style()

navigation = st.navigation(
    [
        st.Page("pages/data.py", title="Data", icon=":material/table_view:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
        st.Page("pages/predict.py", title="Predict", icon=":material/online_prediction:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    ]
)
try:
    gate()  # who this session acts for; a sign-in or refusal page stops here
    navigation.run()
except FinmlError as exc:  # a known condition (the store stayed locked, ...): said plainly
    show_error(exc)
except Exception as exc:  # st.stop / st.rerun / switch_page are not Exceptions: they pass
    show_unexpected(exc)
